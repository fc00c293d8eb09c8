package main

import (
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"syscall"

	"github.com/sessiond/sessiond"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:6379", "TCP address to listen on (empty: none)")
	unix := flag.String("unix", "", "Unix socket to listen on (empty: none)")
	version := flag.Bool("version", false, "print the version and exit")
	flag.Parse()
	if *version {
		fmt.Println("eventloop experiment")
		return
	}
	if err := run(*addr, *unix); err != nil {
		fmt.Fprintln(os.Stderr, "eventloop:", err)
		os.Exit(1)
	}
}

func run(addr, unix string) error {
	st, err := sessiond.Open(&sessiond.Options{})
	if err != nil {
		return err
	}
	defer st.Close()
	l, err := newLoop(st)
	if err != nil {
		return err
	}
	if addr != "" {
		if err := l.listen("tcp", addr); err != nil {
			return err
		}
	}
	if unix != "" {
		os.Remove(unix)
		if err := l.listen("unix", unix); err != nil {
			return err
		}
		defer os.Remove(unix)
	}
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, os.Interrupt)
	go func() {
		<-stop
		if unix != "" {
			os.Remove(unix)
		}
		os.Exit(0)
	}()
	return l.run()
}

// listen opens a listener and hands its descriptor to the loop. The
// net.Listener stays open (and referenced) for the life of the process:
// closing it would close the descriptor.
func (l *loop) listen(network, addr string) error {
	ln, err := net.Listen(network, addr)
	if err != nil {
		return err
	}
	l.listeners = append(l.listeners, ln)
	sc, ok := ln.(syscall.Conn)
	if !ok {
		return fmt.Errorf("%s listener has no descriptor", network)
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return err
	}
	var fd int
	if err := rc.Control(func(f uintptr) { fd = int(f) }); err != nil {
		return err
	}
	// A descriptor of our own, so the runtime's poller keeps its copy.
	dup, err := syscall.Dup(fd)
	if err != nil {
		return err
	}
	if err := syscall.SetNonblock(dup, true); err != nil {
		return err
	}
	l.accepting[dup] = network == "tcp"
	return l.add(dup)
}
