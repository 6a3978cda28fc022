// Placeholder until the native addon lands (issue 4): nothing to build yet.
