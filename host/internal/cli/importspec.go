package cli

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/medgate/medgate/schemas"
	"github.com/medgate/medgate/schemas/importer"
)

const importSpecUsage = `usage: medgate import-spec -system SYSTEM [-out DIR] [-force] SPEC.docx|SPEC.xlsx|SPEC.csv

Reads the field tables of an official interface specification (columns
参数名/参数说明/类型/长度/是否必填, one table, sheet or section per
transaction; a Word document as published, or tables exported from a PDF
to XLSX) and
writes one schema file per transaction to DIR/SYSTEM/CODE.yaml. Point a
site's schema overlay at DIR, or copy the files into schemas/SYSTEM/, so a
new specification version is a data change. Review the files: the
direction and batch limits are guessed from the codes and names.`

// importSpec implements `medgate import-spec`.
func importSpec(_ context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("import-spec", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	system := fs.String("system", "", "system the transactions belong to: the schemas/ directory they go to")
	out := fs.String("out", "schemas-imported", "output directory")
	force := fs.Bool("force", false, "overwrite existing schema files")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{fmt.Sprintf("%v\n\n%s", err, importSpecUsage)}
	}
	if *system == "" || fs.NArg() != 1 {
		return usageError{importSpecUsage}
	}
	file := fs.Arg(0)
	var format string
	switch strings.ToLower(filepath.Ext(file)) {
	case ".docx":
		format = "docx"
	case ".xlsx":
		format = "xlsx"
	case ".csv":
		format = "csv"
	case ".doc":
		return fmt.Errorf("%s: a Word 97-2003 document; open it in Word or WPS and save it as .docx", file)
	default:
		return fmt.Errorf("%s: the specification must be .docx, .xlsx or .csv (export the tables of a PDF to .xlsx first)", file)
	}
	f, err := os.Open(file)
	if err != nil {
		return fmt.Errorf("open the specification: %w", err)
	}
	defer f.Close()
	got, problems := importer.Import(f, format, *system)
	for _, p := range problems {
		fmt.Fprintf(stdout, "warning: %s: %v\n", file, p)
	}
	if len(got) == 0 {
		return fmt.Errorf("%s: no transaction table found; each table needs a header row with 参数名, 类型, 长度 and 是否必填, and a transaction code in its sheet name or title", file)
	}
	dir := filepath.Join(*out, *system)
	// Every file is made and checked before any is written, so a refused
	// import leaves the directory as it was.
	files := make([][]byte, len(got))
	var exist []string
	for i, s := range got {
		var buf bytes.Buffer
		if err := schemas.WriteYAML(&buf, s); err != nil {
			return fmt.Errorf("%s: %w", s.Code, err)
		}
		files[i] = buf.Bytes()
		path := filepath.Join(dir, s.Code+".yaml")
		if _, err := os.Stat(path); err == nil && !*force {
			exist = append(exist, path)
		}
	}
	if len(exist) > 0 {
		verb := "exists"
		if len(exist) > 1 {
			verb = "exist"
		}
		return fmt.Errorf("%s %s; nothing was written: pass -force to overwrite, or choose another -out", strings.Join(exist, ", "), verb)
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return err
	}
	for i, s := range got {
		path := filepath.Join(dir, s.Code+".yaml")
		if err := os.WriteFile(path, files[i], 0o640); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s  %s (%d input, %d output fields)\n", path, s.Name, len(s.Input), len(s.Output))
	}
	// The files must load as a set, exactly as an overlay would.
	if _, err := schemas.Load(os.DirFS(*out)); err != nil {
		return fmt.Errorf("the written schemas do not load: %w", err)
	}
	fmt.Fprintf(stdout, "%d schema(s) written; %d warning(s)\n", len(got), len(problems))
	return nil
}
