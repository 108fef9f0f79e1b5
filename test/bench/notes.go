package main

import (
	"fmt"
	"slices"
	"strings"

	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/pgbackrest"
)

// Notes derives what the figures say, from the figures: where each gap to its limit comes from and
// what would close it. The reasons named are the architecture's (docs/architecture.md), the
// sizes are this run's.
func Notes(r *Results) []string {
	r.ComputeRatios()
	var notes []string
	notes = append(notes, backupNotes(r)...)
	notes = append(notes, tarNotes(r)...)
	notes = append(notes, restoreNotes(r)...)
	notes = append(notes, latencyNotes(r)...)
	notes = append(notes, apiNotes(r)...)
	notes = append(notes, outageNotes(r)...)
	return notes
}

func backupNotes(r *Results) []string {
	var notes []string
	for _, storage := range []string{"local", "s3"} {
		for _, s := range settings {
			p, ok1 := r.backup(s.Name, storage, pathPlugin)
			t, ok2 := r.backup(s.Name, storage, pathDirectTLS)
			d, ok3 := r.backup(s.Name, storage, pathDirect)
			if !ok1 || !ok2 || !ok3 {
				continue
			}
			plugin := p.WallSeconds.Median - p.PGBackRestSeconds.Median
			pods := p.PGBackRestSeconds.Median - t.PGBackRestSeconds.Median
			hop := t.PGBackRestSeconds.Median - d.PGBackRestSeconds.Median
			notes = append(notes, fmt.Sprintf("Backup to %s, %s: %.1fs through the plugin against %.1fs direct. "+
				"The plugin's own share (exec into the repository host, Lease, reading the result) is %.1fs; "+
				"pgBackRest in pods took %+.1fs against the same topology on this machine (pods, the Service network, and the repository host's and PostgreSQL's containers sharing %d cores); "+
				"the topology itself, pgBackRest reading PostgreSQL's files through a `pgbackrest server` over TLS instead of from its own disk, costs %+.1fs. "+
				"The TLS hop is the design's (a repository host apart from PostgreSQL, as the seed's operator had); running the backup in the PostgreSQL pod would remove it but put the repository's load and credentials there.",
				storage, s.Name, p.WallSeconds.Median, d.WallSeconds.Median, plugin, pods, r.Machine.Cores, hop))
		}
	}
	return notes
}

func tarNotes(r *Results) []string {
	p, ok := r.backup(settings[0].Name, "local", pathPlugin)
	if !ok || r.Tar == nil {
		return nil
	}
	d, _ := r.backup(settings[0].Name, "local", pathDirect)
	return []string{fmt.Sprintf("tar writes %.0f MB/s, pgBackRest direct %.0f MB/s, through the plugin %.0f MB/s, all to the same disk. "+
		"tar only copies; pgBackRest also compresses (zst level 3 stores %.0f MB of %.0f MB), checksums every file and verifies every page's checksum, on %d cores shared with PostgreSQL, the S3 server and Kubernetes: it is CPU-bound here, not disk-bound. "+
		"More cores with a higher --process-max, or --options=\"--compress-type=lz4\" (faster, larger repository), would close part of the gap; the checksums are what makes the backup trustworthy and stay.",
		r.Tar.MBps.Median, d.MBps.Median, p.MBps.Median, p.RepoMB.Median, p.SizeMB.Median, r.Machine.Cores)}
}

func restoreNotes(r *Results) []string {
	var notes []string
	for _, x := range r.Restore {
		parts := x.PGBackRestSeconds.Median + x.JobPodStartSeconds.Median + x.PrimaryStartToReadySeconds.Median
		rest := x.TotalSeconds.Median - parts
		var others []string
		for _, s := range slices.Clone(x.Steps) {
			if strings.HasPrefix(s.Name, "restore from ") || strings.HasPrefix(s.Name, "create primary Deployment") || s.Seconds.Median < 0.3 {
				continue
			}
			others = append(others, fmt.Sprintf("%s %.1fs", s.Name, s.Seconds.Median))
		}
		notes = append(notes, fmt.Sprintf("Restore from %s: %.1fs of %.1fs are the parts every restore on Kubernetes needs (pgBackRest %.1fs, the Job's pod start %.1fs, the new primary's start %.1fs). "+
			"The other %.1fs are steps that keep the restore safe: %s. Around pgBackRest inside its Job, the container's own start and exit take %.1fs. "+
			"These are fixed costs: with a larger database the ratio falls toward 1. The safety steps stay; the primary's shutdown and the WAL wait are PostgreSQL's own times.",
			x.Storage, parts, x.TotalSeconds.Median, x.PGBackRestSeconds.Median, x.JobPodStartSeconds.Median, x.PrimaryStartToReadySeconds.Median,
			rest, strings.Join(others, "; "), x.PodRunSeconds.Median-x.PGBackRestSeconds.Median))
	}
	return notes
}

func latencyNotes(r *Results) []string {
	get := func(prefix string) (LatencyRow, bool) {
		for _, l := range r.Latency {
			if strings.HasPrefix(l.Command, prefix) {
				return l, true
			}
		}
		return LatencyRow{}, false
	}
	info, ok1 := get("kubectl pgbackrest info")
	work, ok2 := get("kubectl exec")
	help, ok3 := get("kubectl-pgbackrest --help")
	kubectl, ok4 := get("kubectl version")
	if !ok1 || !ok2 || !ok3 || !ok4 {
		return nil
	}
	return []string{fmt.Sprintf("`kubectl pgbackrest info` takes %.0f ms where `kubectl exec ... pgbackrest info` alone takes %.0f ms: the plugin adds reading the cluster's ConfigMap and finding its repository pod to the exec that must happen. "+
		"`--help` is kubectl's own start (%.0f ms) plus the plugin binary's (%.0f ms, mostly Go's package initialisation of client-go).",
		info.Ms.Median, work.Ms.Median, kubectl.Ms.Median, help.Ms.Median)}
}

func apiNotes(r *Results) []string {
	var lists []string
	for _, a := range r.API {
		if a.Command == "list" {
			lists = append(lists, fmt.Sprintf("%d clusters: %.0f requests, %.0f ms", a.Clusters, a.Requests.Median, a.WallMs.Median))
		}
	}
	var notes []string
	if len(lists) > 0 {
		notes = append(notes, "`list` makes two List calls whatever the number of clusters (their ConfigMaps and the plugin's Deployments, joined in memory): "+strings.Join(lists, "; ")+".")
	}
	for _, a := range r.API {
		if strings.HasPrefix(a.Command, "restore") {
			notes = append(notes, fmt.Sprintf("A restore makes %.0f requests: each step first reads the state it would change (gets), records its progress on the cluster ConfigMap (updates), and waits by watch; "+
				"a wait re-lists now and then (after 0.25 s, 0.5 s, 1 s, … up to 30 s) to recover a lost watch event, which is most of the list calls. That is a few requests a second at most, over a restore of seconds to hours.",
				a.Requests.Median))
		}
	}
	return notes
}

func outageNotes(r *Results) []string {
	o := r.Outage
	if o == nil {
		return nil
	}
	return []string{fmt.Sprintf("An S3 outage costs the local archive one bounded wait: the first push to the frozen S3 holds archive_command for its %d s bound, "+
		"after which S3 is in gap mode and each segment goes to the local repository alone. "+
		"The local archive was current again %.1fs after the freeze (at worst %.0f segments and %.1fs behind, against %.2fs and %.0f before the outage), "+
		"and pg_wal was %.0f MB at most (%.0f MB at the end, %.0f .ready at most) over %d s, against %.0f MB (%.0f .ready) before. "+
		"After the thaw, `kubectl pgbackrest check` passed in %.1fs, its backfill copying the %.0f segments of the gap from the local repository. "+
		"A shorter bound would shorten the one wait but send slow healthy pushes to the gap.",
		pgbackrest.ArchivePushTimeout, o.CurrentAgainSeconds.Median, o.WorstLagSegments.Median, o.WorstLagSeconds.Median,
		o.BaselineWorstLagSeconds.Median, o.BaselineWorstLagSegments.Median,
		o.PGWalMaxMB.Median, o.PGWalEndMB.Median, o.ReadyMax.Median, o.OutageSeconds, o.BaselinePGWalMaxMB.Median, o.BaselineReadyMax.Median,
		o.CheckOKSeconds.Median, o.GapAtThawSegments.Median)}
}
