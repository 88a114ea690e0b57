package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
)

// refusedArgs ends a subcommand whose arguments did not parse: -h prints
// its usage (exit 0), anything else the reason and where help is (exit 2).
// done is false when err is nil and the subcommand goes on.
func refusedArgs(name, usage string, err error, stderr io.Writer) (code int, done bool) {
	switch {
	case err == nil:
		return 0, false
	case errors.Is(err, flag.ErrHelp):
		fmt.Fprintln(stderr, usage)
		return exitOK, true
	}
	fmt.Fprintf(stderr, "ecrscan %s: %v\nsee ecrscan %s -h\n", name, err, name)
	return exitUsage, true
}
