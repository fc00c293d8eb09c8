package main

import (
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/sessiond/sessiond"
)

// Errors for setting values. A settingError wraps them with the key, the
// value and its source.
var (
	errNotSize     = errors.New("not a size (want bytes with an optional unit: 0, 1048576, 512mb, 2gb)")
	errUnknownUnit = errors.New("unknown unit")
	errTooLarge    = errors.New("too large")
	errNotInt      = errors.New("not an integer")
	errOutOfRange  = errors.New("out of range")
)

// sizeUnits are Redis's memory units (memtoull in its util.c): a bare
// letter is a power of 1000 and a letter with b a power of 1024, so
// "1k" is 1000 bytes and "1kb" is 1024. Case does not matter.
var sizeUnits = map[string]int64{
	"":   1,
	"b":  1,
	"k":  1000,
	"kb": 1 << 10,
	"m":  1000 * 1000,
	"mb": 1 << 20,
	"g":  1000 * 1000 * 1000,
	"gb": 1 << 30,
}

// parseSize parses a size as Redis writes one: decimal digits and an
// optional unit ("512mb", "2gb", "1048576"). Unlike Redis it refuses a
// size that overflows, and any size past limit.
func parseSize(s string, limit int64) (int64, error) {
	digits := len(s) - len(strings.TrimLeft(s, "0123456789"))
	if digits == 0 {
		return 0, errNotSize
	}
	mul, ok := sizeUnits[strings.ToLower(s[digits:])]
	if !ok {
		return 0, errUnknownUnit
	}
	n, err := strconv.ParseInt(s[:digits], 10, 64)
	if err != nil || n > limit/mul {
		return 0, fmt.Errorf("%w (at most %d bytes)", errTooLarge, limit)
	}
	return n * mul, nil
}

// parseInt parses a decimal integer in [lo, hi].
func parseInt(s string, lo, hi int) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil {
		var numErr *strconv.NumError
		if errors.As(err, &numErr) && errors.Is(numErr.Err, strconv.ErrRange) {
			return 0, fmt.Errorf("%w (want %d to %d)", errOutOfRange, lo, hi)
		}
		return 0, errNotInt
	}
	if n < lo || n > hi {
		return 0, fmt.Errorf("%w (want %d to %d)", errOutOfRange, lo, hi)
	}
	return n, nil
}

// parseChoice returns s, in lower case, if it is one of choices.
func parseChoice(s string, choices ...string) (string, error) {
	for _, c := range choices {
		if strings.EqualFold(s, c) {
			return c, nil
		}
	}
	return "", fmt.Errorf("want %s", orList(choices))
}

// parsePolicy parses a Redis maxmemory-policy name, in any case as Redis
// accepts it.
// parseFsync parses an appendfsync policy, in any case.
func parseFsync(s string) (sessiond.FsyncPolicy, error) {
	p, err := sessiond.ParseFsyncPolicy(strings.ToLower(s))
	if err != nil {
		return 0, errors.New("unknown policy (want always, everysec or no)")
	}
	return p, nil
}

func parsePolicy(s string) (sessiond.Policy, error) {
	p, err := sessiond.ParsePolicy(strings.ToLower(s))
	if err != nil {
		// The store's own error repeats the value and its package; the
		// settingError around this one already says both.
		return 0, fmt.Errorf("unknown policy (want %s)", orList(policyNames()))
	}
	return p, nil
}

// policyNames returns the names of the store's policies, asking the store
// so that a policy it adds is listed without a change here.
func policyNames() []string {
	var names []string
	for p := sessiond.Policy(0); ; p++ {
		name := p.String()
		if q, err := sessiond.ParsePolicy(name); err != nil || q != p {
			return names
		}
		names = append(names, name)
	}
}

// parseLevel parses a log level name, in any case.
func parseLevel(s string) (slog.Level, error) {
	switch strings.ToLower(s) {
	case "debug":
		return slog.LevelDebug, nil
	case "info":
		return slog.LevelInfo, nil
	case "warn":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	}
	return 0, errors.New("want debug, info, warn or error")
}

// orList writes names as "a, b or c".
func orList(names []string) string {
	if len(names) < 2 {
		return strings.Join(names, "")
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}

// splitList splits a comma-separated list, dropping blanks.
func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// parseDuration parses a positive Go duration ("500ms", "2s", "1m").
func parseDuration(s string) (time.Duration, error) {
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, errors.New("want a positive duration such as 500ms, 2s or 1m")
	}
	return d, nil
}

// parseBool parses a boolean setting as strconv.ParseBool does (true,
// false, 1, 0, t, f, ...).
func parseBool(s string) (bool, error) {
	b, err := strconv.ParseBool(s)
	if err != nil {
		return false, errors.New("want true or false")
	}
	return b, nil
}
