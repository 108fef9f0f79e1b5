package cmdutil

import (
	"github.com/spf13/pflag"

	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/cluster"
)

// AddRetentionFlags registers the --retention-* flags of create and update (docs/retention.md).
func AddRetentionFlags(f *pflag.FlagSet, r *cluster.RetentionFlags) {
	f.StringVar(&r.Full, "retention-full", r.Full,
		"Full backups each repository keeps (count), or days (with --retention-full-type=time): N for every repository or local=N,s3=M (default 2)")
	f.StringVar(&r.FullType, "retention-full-type", r.FullType, "How --retention-full counts: count (default) or time (days), per repository as local=count,s3=time")
	f.StringVar(&r.Diff, "retention-diff", r.Diff, "Differential backups each repository keeps (default: they expire with their full)")
	f.StringVar(&r.Archive, "retention-archive", r.Archive,
		"Backups of --retention-archive-type whose WAL stays for point-in-time recovery (default: every retained backup's)")
	f.StringVar(&r.ArchiveType, "retention-archive-type", r.ArchiveType, "What --retention-archive counts: full (default), diff or incr")
}
