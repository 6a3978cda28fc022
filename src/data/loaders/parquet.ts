/**
 * Parquet input through hyparquet (a dependency-free reader). Rows are read one row group at a time, so memory
 * holds one group, not the file. Row numbers in messages are 1-based row indices (Parquet has no lines), reported
 * in the same `FILE:N: what is wrong` form.
 */
import { asyncBufferFromFile, parquetMetadataAsync, parquetReadObjects } from 'hyparquet';
import { DataError } from '../errors.js';

export function isParquet(file: string): boolean {
  return /\.parquet$/i.test(file);
}

/** Column names of a Parquet file (top-level fields). */
export async function parquetColumns(file: string): Promise<string[]> {
  const buf = await openParquet(file);
  const meta = await parquetMetadataAsync(buf);
  // schema[0] is the root; its direct children are the columns (nested groups count as one column).
  const out: string[] = [];
  let i = 1;
  const skip = (idx: number): number => {
    let next = idx + 1;
    for (let c = 0; c < (meta.schema[idx]!.num_children ?? 0); c++) next = skip(next);
    return next;
  };
  while (i < meta.schema.length) {
    out.push(meta.schema[i]!.name);
    i = skip(i);
  }
  return out;
}

async function openParquet(file: string): Promise<Awaited<ReturnType<typeof asyncBufferFromFile>>> {
  try {
    return await asyncBufferFromFile(file);
  } catch (err) {
    throw new DataError(`${file}: cannot read: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
}

/** Rows as objects with their 1-based row number. */
export async function* readParquetRows(file: string, columns?: string[]): AsyncGenerator<{ value: Record<string, unknown>; line: number }> {
  const buf = await openParquet(file);
  let meta;
  try {
    meta = await parquetMetadataAsync(buf);
  } catch (err) {
    throw new DataError(`${file}: not a readable Parquet file: ${err instanceof Error ? err.message : String(err)}`);
  }
  let start = 0;
  for (const group of meta.row_groups) {
    const end = start + Number(group.num_rows);
    const rows = await parquetReadObjects({ file: buf, metadata: meta, rowStart: start, rowEnd: end, ...(columns ? { columns } : {}) });
    for (let i = 0; i < rows.length; i++) yield { value: rows[i] as Record<string, unknown>, line: start + i + 1 };
    start = end;
  }
}
