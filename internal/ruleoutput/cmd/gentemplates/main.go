// Command gentemplates writes ruleoutput's templates_gen.go from Falco's
// rules files:
//
//	go run ./cmd/gentemplates -o templates_gen.go FILE.yaml...
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/falco-reporter/falco-reporter/internal/ruleoutput/gen"
)

func main() {
	out := flag.String("o", "", "output Go file (stdout if empty)")
	flag.Parse()
	src, err := gen.Generate(flag.Args())
	if err == nil && *out != "" {
		err = os.WriteFile(*out, src, 0o644)
	} else if err == nil {
		_, err = os.Stdout.Write(src)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "gentemplates:", err)
		os.Exit(1)
	}
}
