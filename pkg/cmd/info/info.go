// Package info is `kubectl pgbackrest info` and its alias `show backup`: the backups of a cluster,
// per repository, with the WAL archive and the window a point-in-time restore can reach.
package info

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/backup"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/cmd/cmdutil"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/exitcode"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/output"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/pgbackrest"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/timeline"
)

const long = `Show the backups of a cluster, per repository: label, type, start and stop time, size, size in the
repository and the WAL range each needs; the archived WAL range; and the recoverable window, the
range of times a point-in-time restore can reach.

-o json and -o yaml print a stable structure (pkg/pgbackrest.Summary): fields are added, never
renamed.

--timeline draws the same as a picture instead, per repository on one time axis that ends at now:
the backups (F full, D diff, I incr, at the time each finished), the archived WAL as a bar with its
gaps, and the recoverable window with its start and end times. It lists each repository's WAL
archive (one pgbackrest repo-ls per repository) to find the gaps and when the newest WAL was stored.
It is as wide as the terminal (else $COLUMNS, else 80, or --width), with box-drawing characters
and colour on a terminal, plain ASCII otherwise (or with --ascii, or when NO_COLOR is set).`

// Options are the flags of `info` and what Complete derives from them.
type Options struct {
	genericiooptions.IOStreams

	Storage string
	Set     string
	Output  string
	// Timeline draws the picture; ASCII and Width shape it (Width 0: the terminal's).
	Timeline bool
	ASCII    bool
	Width    int

	Cluster   string
	Namespace string
	storages  []pgbackrest.Storage
	format    output.Format
	deps      backup.Deps
	color     *output.Color
	lookupEnv func(string) (string, bool)
	tty       *bool // for tests: whether Out is a terminal
}

// NewOptions holds every default of `info`.
func NewOptions(streams genericiooptions.IOStreams) *Options {
	return &Options{IOStreams: streams, Output: string(output.Table)}
}

// NewCmd returns `info`.
func NewCmd(deps *cmdutil.Deps) *cobra.Command {
	return newCmd(deps, "info CLUSTER", "kubectl pgbackrest info")
}

// NewShowCmd returns `show` with its child `backup`, the same command as `info` for users coming
// from `pgo show backup`.
func NewShowCmd(deps *cmdutil.Deps) *cobra.Command {
	show := cmdutil.GroupCommand(&cobra.Command{
		Use:   "show",
		Short: "Show a cluster's backups (show backup is info, as in pgo show backup)",
	})
	show.AddCommand(newCmd(deps, "backup CLUSTER", "kubectl pgbackrest show backup"))
	return show
}

func newCmd(deps *cmdutil.Deps, use, prefix string) *cobra.Command {
	o := NewOptions(deps.IOStreams)
	cmd := &cobra.Command{
		Use:   use,
		Short: "Show a cluster's backups, WAL archive and recoverable window",
		Long:  long,
		Example: fmt.Sprintf(`  # Every repository
  %[1]s mydb

  # One backup set, as JSON
  %[1]s mydb --set 20261125-002441F -o json

  # Only the S3 repository
  %[1]s mydb --storage=s3

  # The backups, archive and recoverable window as a picture
  %[1]s mydb --timeline`, prefix),
		Args:              cmdutil.ExactArgs(1),
		ValidArgsFunction: cmdutil.CompleteCluster(deps),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.Complete(deps, args); err != nil {
				return err
			}
			if err := o.Validate(); err != nil {
				return err
			}
			return o.Run(cmd.Context())
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&o.Storage, "storage", o.Storage, "repositories to show: local, s3 or local,s3 (default: all of the cluster's)")
	fl.StringVar(&o.Set, "set", o.Set, "show only the backup set with this label")
	fl.StringVarP(&o.Output, "output", "o", o.Output, "output format: table, json or yaml")
	fl.BoolVar(&o.Timeline, "timeline", o.Timeline, "draw the backups, WAL archive and recoverable window on a time axis")
	fl.BoolVar(&o.ASCII, "ascii", o.ASCII, "with --timeline: plain ASCII, no colour, even on a terminal")
	fl.IntVar(&o.Width, "width", o.Width, fmt.Sprintf("with --timeline: columns to draw in, at least %d (default: the terminal's width, else $COLUMNS, else %d)", timeline.MinWidth, output.DefaultWidth))
	_ = cmd.RegisterFlagCompletionFunc("storage", cobra.FixedCompletions([]string{"local", "s3", "local,s3"}, cobra.ShellCompDirectiveNoFileComp))
	_ = cmd.RegisterFlagCompletionFunc("output", cobra.FixedCompletions([]string{"table", "json", "yaml"}, cobra.ShellCompDirectiveNoFileComp))
	_ = cmd.RegisterFlagCompletionFunc("set", cmdutil.CompleteBackupSet(deps))
	return cmd
}

// Complete builds the clients and namespace from the root's flags and takes the cluster name.
func (o *Options) Complete(deps *cmdutil.Deps, args []string) error {
	o.Cluster = args[0]
	c, err := deps.ClusterClients()
	if err != nil {
		return err
	}
	o.Namespace = c.Namespace
	o.color = deps.Color
	o.lookupEnv = os.LookupEnv
	o.deps = backup.Deps{Client: c.Client, Exec: c.Exec, Now: time.Now, ErrOut: o.ErrOut}
	return nil
}

// Validate checks the flags; it needs no cluster.
func (o *Options) Validate() error {
	st, err := cmdutil.ParseStorageFlag(o.Storage)
	if err != nil {
		return err
	}
	o.storages = st
	format, err := output.ParseFormat(o.Output)
	if err != nil {
		return exitcode.Usage(err)
	}
	o.format = format
	switch {
	case o.Timeline && format != output.Table:
		return exitcode.Usage(fmt.Errorf("--timeline draws a picture and cannot be combined with -o %s: drop one of them", format))
	case !o.Timeline && (o.ASCII || o.Width != 0):
		return exitcode.Usage(errors.New("--ascii and --width shape the picture of --timeline: add --timeline"))
	case o.Width != 0 && o.Width < timeline.MinWidth:
		return exitcode.Usage(fmt.Errorf("--width must be at least %d columns, got %d", timeline.MinWidth, o.Width))
	}
	return nil
}

// Run reads the backups and prints them.
func (o *Options) Run(ctx context.Context) error {
	sum, err := backup.Info(ctx, o.deps, backup.InfoConfig{Namespace: o.Namespace, Cluster: o.Cluster, Storages: o.storages, Set: o.Set})
	if err != nil {
		return err
	}
	cmdutil.WarnCerts(ctx, o.deps.Client, o.ErrOut, o.color, o.Namespace, o.Cluster, o.deps.Now())
	if o.format != output.Table {
		return output.Print(o.Out, o.format, sum)
	}
	if o.Timeline {
		listings, err := backup.ArchiveListings(ctx, o.deps, backup.InfoConfig{Namespace: o.Namespace, Cluster: o.Cluster}, sum)
		if err != nil {
			return err
		}
		now := o.deps.Now()
		// Not Cleaned here: the picture holds colour; FromSummary Cleans what came from pgBackRest.
		_, err = io.WriteString(o.Out, timeline.Render(o.picture(sum, listings, now)))
		return err
	}
	return Render(o.Out, sum)
}

// picture is the timeline's input: as wide as --width or the output's terminal, box-drawing and
// colour only on a terminal, without --ascii and NO_COLOR (and colour only when --color allows).
func (o *Options) picture(sum *pgbackrest.Summary, listings map[pgbackrest.Storage][]pgbackrest.RepoFile, now time.Time) timeline.Input {
	lookup := o.lookupEnv
	if lookup == nil {
		lookup = func(string) (string, bool) { return "", false }
	}
	width := o.Width
	if width == 0 {
		width = output.Width(o.Out, lookup)
	}
	_, noColor := lookup("NO_COLOR")
	term, _ := lookup("TERM")
	fancy := o.isTerminal() && !o.ASCII && !noColor && term != "dumb"
	style := timeline.Style{Unicode: fancy}
	if fancy && o.color.Enabled() {
		style.Color = o.color
	}
	return timeline.Input{Repos: timeline.FromSummary(sum, listings, now), Now: now, Width: width, Style: style}
}

func (o *Options) isTerminal() bool {
	if o.tty != nil {
		return *o.tty
	}
	return output.IsTerminal(o.Out)
}

// Render writes the summary as text: per repository a table of backups, the archive range and the
// recoverable window.
func Render(w io.Writer, sum *pgbackrest.Summary) error {
	w = output.CleanWriter(w) // labels and messages are pgBackRest's
	fmt.Fprintf(w, "stanza %s: %s\n", sum.Stanza, status(sum.Status))
	if sum.BackupRunning {
		if sum.BackupPercent != nil {
			fmt.Fprintf(w, "a backup is running: %.1f%% done\n", *sum.BackupPercent)
		} else {
			fmt.Fprintln(w, "a backup or expire is running")
		}
	}
	for _, r := range sum.Repositories {
		name := fmt.Sprintf("repo%d", r.Key)
		if r.Storage != "" {
			name = backup.RepoName(r.Storage)
		}
		if r.Encrypted {
			name += ", encrypted (" + r.Cipher + ")"
		}
		fmt.Fprintf(w, "\nrepository %s: %s\n", name, status(r.Status))
		if len(r.Backups) == 0 {
			fmt.Fprintln(w, "  no backups")
		} else {
			rows := make([][]string, 0, len(r.Backups))
			for _, b := range r.Backups {
				label := b.Label
				if b.Error {
					label += " (page checksum errors)"
				}
				rows = append(rows, []string{label, b.Type, b.PGVersion, timeOf(b.Start), timeOf(b.Stop),
					backup.FormatBytes(b.Size), backup.FormatBytes(b.RepoSize), b.WALStart, b.WALStop})
			}
			var tb strings.Builder
			if err := output.WriteTable(&tb, []string{"label", "type", "postgres", "start", "stop", "size", "repo size", "wal start", "wal stop"}, rows); err != nil {
				return err
			}
			for _, l := range strings.SplitAfter(strings.TrimRight(tb.String(), "\n"), "\n") {
				fmt.Fprint(w, "  "+l)
			}
			fmt.Fprintln(w)
		}
		if r.Archive != nil {
			fmt.Fprintf(w, "  archive: %s … %s\n", r.Archive.Min, r.Archive.Max)
		} else {
			fmt.Fprintln(w, "  archive: empty")
		}
		for _, g := range r.Gaps {
			fmt.Fprintf(w, "  archive gap: %s\n", g.Describe(time.Now().Unix()))
		}
		if rw := r.RecoveryWindow; rw != nil {
			fmt.Fprintf(w, "  recoverable: from %s (backup %s) to the end of the archive (WAL %s, at least %s)\n",
				timeOf(rw.From), rw.FromBackup, rw.ToWAL, timeOf(rw.AtLeastUntil))
		} else {
			fmt.Fprintln(w, "  recoverable: nothing (no backup whose WAL is archived)")
		}
	}
	return nil
}

func status(s pgbackrest.RepoStatus) string {
	if s.Code == 0 {
		return s.Message
	}
	return fmt.Sprintf("%s (code %d)", s.Message, s.Code)
}

func timeOf(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02 15:04:05Z")
}
