// Package config turns the YAML configuration file into a validated Config.
// It owns the file format: key names, ${VAR} expansion, defaults, and every
// check that can be made without the network, reporting each problem with
// the file, line and column of the offending node. It knows nothing of how
// sources are fetched or where alerts go; the query language is checked
// through a function the caller passes in (WithQueryCheck), so this package
// does not depend on the parser.
package config
