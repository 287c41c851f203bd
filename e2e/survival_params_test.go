//go:build !soak

package e2e

// crashKills is how often TestSurvivalCrash kills the daemon in the test
// command; `make soak` kills it 100 times.
const crashKills = 10
