package policywire

import _ "embed"

// ExampleConfig is config.example.yaml, written by `policywire init`.
//
//go:embed config.example.yaml
var ExampleConfig []byte
