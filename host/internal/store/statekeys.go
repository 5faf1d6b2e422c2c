package store

import "context"

// StateKeys is a read of the plugin state that leaves the values out: the
// keys and versions of the entries whose key starts with prefix, in key
// order (limit 0: all), as StateScan returns them but with Value nil. The
// host answers sdk.ScanKnown with it (hostsvc): a plugin that already
// holds most values of a prefix gets only the others, and the store reads,
// opens and decompresses only those (StateGet). It is not part of Store:
// hostsvc asks for it by interface and scans without it.
func (s *sqlStore) StateKeys(ctx context.Context, ns, prefix string, limit int) ([]StateEntry, error) {
	return s.StateKeysAfter(ctx, ns, prefix, "", limit)
}

// StateKeysAfter is StateKeys of the keys after after only ("":
// StateKeys), as StateScanAfter is of StateScan.
func (s *sqlStore) StateKeysAfter(ctx context.Context, ns, prefix, after string, limit int) ([]StateEntry, error) {
	q, args := stateScanAfterQuery("key, version", ns, prefix, after, limit)
	out, err := readAll(ctx, s, func(row rowScanner) (StateEntry, error) {
		var e StateEntry
		err := row.Scan(&e.Key, &e.Version)
		return e, err
	}, q, args...)
	if err != nil {
		return nil, s.errorf("state %q keys %q: %w", ns, prefix, err)
	}
	return out, nil
}
