package main

import (
	"io"
	"log/slog"
	"runtime/debug"
)

// newLogger returns the logger for c: text or JSON lines on w, from
// c.LogLevel up.
func newLogger(w io.Writer, c *Config) *slog.Logger {
	opts := &slog.HandlerOptions{Level: c.LogLevel}
	if c.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// version returns the module version the binary was built from: a tag for
// go install github.com/sessiond/sessiond/cmd/sessiond@v1.2.3, and "devel"
// for a build from a work tree.
func version() string {
	info, ok := debug.ReadBuildInfo()
	if !ok || info.Main.Version == "" || info.Main.Version == "(devel)" {
		return "devel"
	}
	return info.Main.Version
}
