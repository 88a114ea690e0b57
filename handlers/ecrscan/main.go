// Command ecrscan is the operator CLI of the ECR image scanner: it decodes
// events and reports the way the Lambda functions do, so rules and outputs can
// be debugged from a shell.
package main

import (
	"fmt"
	"io"
	"os"
	"sort"
)

// command is one ecrscan subcommand. run returns the process exit code.
type command struct {
	usage string
	run   func(args []string, stdout, stderr io.Writer) int
}

// commands is filled by each subcommand's file, so adding one touches one file.
var commands = map[string]command{}

func register(name string, c command) { commands[name] = c }

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stderr)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	c, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "ecrscan: unknown command %q\n", args[0])
		usage(stderr)
		return 2
	}
	return c.run(args[1:], stdout, stderr)
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: ecrscan <command> [arguments]\n\ncommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-16s %s\n", n, commands[n].usage)
	}
}
