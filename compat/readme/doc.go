// Package readme runs every code block of the repository's README.md, so
// that a snippet that stops working fails the build: sessiond commands
// against the binary built from the tree (ports moved to free ones), the
// Node apps with compat/node's packages against a real sessiond, the Go
// programs in a module pointed at the tree, the TOML file through
// --config, redis-cli and curl with their shown output. A block it has no
// runner for fails the test, unless a comment in the block says that the
// README test does not run it, and why.
package readme
