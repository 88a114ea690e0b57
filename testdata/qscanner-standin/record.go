package main

import (
	"encoding/json"
	"fmt"
	"os"
)

// record appends one line per invocation. O_APPEND with a single write keeps
// concurrent invocations' lines whole and countable. The token is never
// written, only whether it was present.
func record(extra map[string]any) {
	path := os.Getenv("QSCANNER_STANDIN_RECORD")
	if path == "" {
		return
	}
	line := map[string]any{
		"argv":          os.Args[1:],
		"has_token_env": os.Getenv("QUALYS_ACCESS_TOKEN") != "",
		"home":          os.Getenv("HOME"),
		"tmpdir":        os.Getenv("TMPDIR"),
		"xdg_config":    os.Getenv("XDG_CONFIG_HOME"),
		"banner_off":    os.Getenv("DISABLE_QSCANNER_BANNER") == "yes",
		"pid":           os.Getpid(),
		// The region QScanner's AWS SDK would pull from: the image's
		// registry's, when the hub scans a member account's image.
		"aws_region": os.Getenv("AWS_REGION"),
	}
	for k, v := range extra {
		line[k] = v
	}
	b, err := json.Marshal(line)
	if err != nil {
		return
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		fmt.Fprintf(os.Stderr, "qscanner stand-in: record: %v\n", err)
		return
	}
	_, _ = f.Write(append(b, '\n'))
	_ = f.Close()
}
