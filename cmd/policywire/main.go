// Command policywire is the policy-news alert bot: it polls EU and
// government sources, remembers what it has seen and posts each new item
// once to the Slack channels and Matrix rooms whose topics it matches.
//
// This package is wiring only: one file per command, each building its
// cobra command from the shared app (root.go).
package main

import (
	"os"

	_ "time/tzdata" // time zones work in images without /usr/share/zoneinfo
)

// Set at link time: -ldflags "-X main.version=1.2.0 -X main.commit=abc123".
var (
	version = "dev"
	commit  = ""
)

func main() {
	os.Exit(run(os.Args, os.Stdin, os.Stdout, os.Stderr))
}
