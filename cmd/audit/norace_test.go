//go:build !race

package main_test

// raceEnabled: the tests run without -race, and so is the command built.
const raceEnabled = false
