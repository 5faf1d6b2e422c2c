//go:build !unix

package smenvelope

import "os"

// checkOwner is a no-op where file ownership is not a uid (e.g. Windows ACLs).
func checkOwner(string, os.FileInfo) error { return nil }

// fileOwner returns "" where ownership is not a uid.
func fileOwner(os.FileInfo) string { return "" }
