package cluster

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/pgbackrest"
)

// RetentionFlags are the --retention-* flags as typed: each one value for every repository
// ("4") or one per repository ("local=4,s3=14").
type RetentionFlags struct {
	Full, FullType, Diff, Archive, ArchiveType string
}

// Given says whether any retention flag was set.
func (f RetentionFlags) Given() bool {
	return f.Full != "" || f.FullType != "" || f.Diff != "" || f.Archive != "" || f.ArchiveType != ""
}

// Apply returns base (nil: the defaults) with the flags applied, for a cluster with these
// storages. Each error names its flag and the fix.
func (f RetentionFlags) Apply(base map[pgbackrest.Storage]Retention, storages []pgbackrest.Storage) (map[pgbackrest.Storage]Retention, error) {
	out := map[pgbackrest.Storage]Retention{}
	for _, st := range storages {
		out[st] = base[st]
	}
	var errs []error
	set := func(flag, value string, number bool, put func(*Retention, string, int)) {
		if value == "" {
			return
		}
		vals, err := perRepo(flag, value, storages)
		if err != nil {
			errs = append(errs, err)
			return
		}
		for _, st := range slices.Sorted(maps.Keys(vals)) {
			v := vals[st]
			n := 0
			if number {
				if n, err = strconv.Atoi(v); err != nil || n < 1 {
					errs = append(errs, fmt.Errorf("invalid %s %q: give a whole number of at least 1 (e.g. %s 4 or %s local=4,s3=14)", flag, v, flag, flag))
					continue
				}
			}
			r := out[st]
			put(&r, v, n)
			out[st] = r
		}
	}
	set("--retention-full", f.Full, true, func(r *Retention, _ string, n int) { r.Full = n })
	set("--retention-full-type", f.FullType, false, func(r *Retention, v string, _ int) { r.FullType = v })
	set("--retention-diff", f.Diff, true, func(r *Retention, _ string, n int) { r.Diff = n })
	set("--retention-archive", f.Archive, true, func(r *Retention, _ string, n int) { r.Archive = n })
	set("--retention-archive-type", f.ArchiveType, false, func(r *Retention, v string, _ int) { r.ArchiveType = v })
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	for _, st := range storages {
		if err := out[st].Validate(); err != nil {
			errs = append(errs, fmt.Errorf("retention of %s: %w", st, err))
		}
	}
	return out, errors.Join(errs...)
}

// perRepo reads "V" (every storage) or "local=V,s3=W" (those named).
func perRepo(flag, value string, storages []pgbackrest.Storage) (map[pgbackrest.Storage]string, error) {
	out := map[pgbackrest.Storage]string{}
	if !strings.Contains(value, "=") {
		for _, st := range storages {
			out[st] = strings.TrimSpace(value)
		}
		return out, nil
	}
	for part := range strings.SplitSeq(value, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		st := pgbackrest.Storage(strings.TrimSpace(k))
		switch {
		case !ok || strings.TrimSpace(v) == "":
			return nil, fmt.Errorf("invalid %s %q: give one value (%s 4) or storage=value pairs (%s local=4,s3=14)", flag, value, flag, flag)
		case st != pgbackrest.Local && st != pgbackrest.S3:
			return nil, fmt.Errorf("invalid %s %q: unknown storage %q; use local or s3", flag, value, st)
		case !slices.Contains(storages, st):
			return nil, fmt.Errorf("invalid %s %q: the cluster has no %s repository (its storage is %s)", flag, value, st, joinStorages(storages))
		}
		if _, dup := out[st]; dup {
			return nil, fmt.Errorf("invalid %s %q: %s is given twice", flag, value, st)
		}
		out[st] = strings.TrimSpace(v)
	}
	return out, nil
}

func joinStorages(storages []pgbackrest.Storage) string {
	s := make([]string, len(storages))
	for i, st := range storages {
		s[i] = string(st)
	}
	return strings.Join(s, ",")
}
