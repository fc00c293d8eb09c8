// Package report holds what the benchmark commands under bench/ share to
// read their comma-list flags and to write the cells of their Markdown
// tables, so that every table in docs/BENCHMARKS.md formats a figure the
// same way.
package report
