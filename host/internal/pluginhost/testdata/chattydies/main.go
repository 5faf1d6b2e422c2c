// Command chattydies is a plugin for pluginhost's tests: it prints a line
// to standard output, as a plugin written with fmt.Println for logging
// does, then finds it cannot start, says why on standard error and exits,
// all before the handshake.
package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Println("chattydies plugin starting")
	// What a plugin does before it serves: here, read its key file.
	_, err := os.ReadFile("/etc/chattydies/key.pem")
	fmt.Fprintf(os.Stderr, "cannot start: %v; token=s3cr3tvalue123\n", err)
	os.Exit(3)
}
