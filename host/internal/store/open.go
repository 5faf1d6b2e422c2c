package store

import (
	"context"
	"fmt"
)

// Drivers are the engine names Open accepts.
const (
	DriverSQLite   = "sqlite"   // dsn is a file path
	DriverPostgres = "postgres" // dsn is a libpq URL or keyword/value string
)

// Open opens the store engine named by driver (DriverSQLite or
// DriverPostgres) and runs its migrations.
func Open(ctx context.Context, driver, dsn string, opts ...Option) (Store, error) {
	switch driver {
	case DriverSQLite:
		s, err := OpenSQLite(ctx, dsn, opts...)
		if err != nil {
			return nil, err
		}
		return s, nil
	case DriverPostgres:
		p, err := OpenPostgres(ctx, dsn, opts...)
		if err != nil {
			return nil, err
		}
		return p, nil
	default:
		return nil, fmt.Errorf("store: unknown driver %q (valid: %q, %q)", driver, DriverSQLite, DriverPostgres)
	}
}
