"""Foundation: the data model, text rules, errors, statistics and token counting. Imports nothing first-party above it."""
