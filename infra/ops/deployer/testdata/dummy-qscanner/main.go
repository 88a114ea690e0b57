// Command dummy-qscanner is NOT Qualys QScanner. It stands in for the QScanner
// binary in the deployer's tests only: they package it as the layer, deploy it
// into moto, and let verify run it. It answers --help and nothing else.
package main

import (
	"fmt"
	"os"
)

func main() {
	for _, a := range os.Args[1:] {
		if a == "--help" || a == "-h" {
			fmt.Println("dummy-qscanner: a test stand-in for the deployer's tests, not Qualys QScanner")
			return
		}
	}
	fmt.Fprintln(os.Stderr, "dummy-qscanner: only --help is implemented")
	os.Exit(2)
}
