// Command validateonly validates a message against a schema document of
// its own, as a vendor's plugin does with package schemas, and never asks
// for medgate's built-in schemas. TestValidatingLinksNoBuiltinSchemas
// builds it and looks for the built-in schema files in the binary.
package main

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/medgate/medgate/schemas"
)

const greet = `code: greet
name: greet a person
system: hello
direction: upload
source: the test
input:
  - name: name
    type: string
    required: true
    maxLength: 200
    example: Ada
output: []
`

func main() {
	set, err := schemas.FromDocuments(map[string][]byte{"hello/greet.yaml": []byte(greet)})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	s, err := set.Lookup("hello", "greet")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	var doc any
	if err := json.Unmarshal([]byte(`{"name":"Ada"}`), &doc); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println(s.ValidateInput(doc))
}
