//go:build !unix

package smenvelope

import "os"

// checkOwner is a no-op where file ownership is not a uid (e.g. Windows ACLs).
func checkOwner(string, os.FileInfo) error { return nil }

// fileIdentity returns "" where ownership is not a uid.
func fileIdentity(os.FileInfo) string { return "" }
