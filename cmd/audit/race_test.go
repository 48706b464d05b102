//go:build race

package main_test

// raceEnabled: the tests run with -race, so the command is built with it.
const raceEnabled = true
