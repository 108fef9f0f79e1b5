package pgbackrest

import "testing"

func TestParseProgress(t *testing.T) {
	tests := []struct {
		name string
		line string
		want Progress
		ok   bool
	}{
		{"remote file with checksum",
			"2026-11-25 00:24:41.123 P01 DETAIL: backup file c:/pgdata/pg15/base/5/1259 (112KB, 8.78%) checksum 2c41a4bd0f4e52e8cde3b8b2d8e0ee5d0e08f6d9",
			Progress{Percent: 8.78, File: "/pgdata/pg15/base/5/1259", Bytes: 112 << 10}, true},
		{"local file without timestamp",
			"P02 DETAIL: backup file /pgdata/pg15/base/16384/16397 (1.2MB, 41.07%) checksum 6d1ddbb2a0f1c1e4d5e5a4f5b9c1a2b3c4d5e6f7",
			Progress{Percent: 41.07, File: "/pgdata/pg15/base/16384/16397", Bytes: 1258291}, true},
		{"empty file has no checksum",
			"P01 DETAIL: backup file c-primary.ns.svc:/pgdata/pg15/base/1/2224 (0B, 0.00%)",
			Progress{Percent: 0, File: "/pgdata/pg15/base/1/2224", Bytes: 0}, true},
		{"last file",
			"2026-11-25 00:24:48.001 P01 DETAIL: backup file c:/pgdata/pg15/global/pg_control (8KB, 100.00%) checksum 0a0b0c",
			Progress{Percent: 100, File: "/pgdata/pg15/global/pg_control", Bytes: 8192}, true},
		{"bundle",
			"P01 DETAIL: backup file /pgdata/pg15/base/1/112 (bundle 1/1672, 8KB, 2.11%) checksum abc",
			Progress{Percent: 2.11, File: "/pgdata/pg15/base/1/112", Bytes: 8192}, true},
		{"unchanged in diff",
			"P01 DETAIL: match file from prior backup c:/pgdata/pg15/base/5/2619 (128KB, 55.50%) checksum abc",
			Progress{Percent: 55.5, File: "/pgdata/pg15/base/5/2619", Bytes: 128 << 10}, true},
		{"resumed",
			"P01 DETAIL: checksum resumed file /pgdata/pg15/base/5/2620 (1GB, 99.99%) checksum abc",
			Progress{Percent: 99.99, File: "/pgdata/pg15/base/5/2620", Bytes: 1 << 30}, true},
		{"path with space and parens",
			"P01 DETAIL: backup file /ts/my dir (old)/16385 (16KB, 3.00%) checksum abc",
			Progress{Percent: 3, File: "/ts/my dir (old)/16385", Bytes: 16 << 10}, true},
		{"restore",
			"2026-11-25 00:31:02.410 P02 DETAIL: restore file /pgdata/pg15/base/5/16397 (13.6MB, 27.31%) checksum 9f1c",
			Progress{Percent: 27.31, File: "/pgdata/pg15/base/5/16397", Bytes: 14260634}, true},
		{"restore delta match",
			"P01 DETAIL: restore file /pgdata/pg15/base/5/2619 - exists and matches backup (128KB, 55.50%) checksum abc",
			Progress{Percent: 55.5, File: "/pgdata/pg15/base/5/2619", Bytes: 128 << 10}, true},
		{"restore zero size",
			"P01 DETAIL: restore file /pgdata/pg15/base/5/2620 - exists and is zero size (0B, 56.00%)",
			Progress{Percent: 56, File: "/pgdata/pg15/base/5/2620", Bytes: 0}, true},
		{"restore zeroed bundle",
			"P01 DETAIL: restore zeroed file /pgdata/pg15/base/16384/1259 (bundle 20261125-002616F/1/4096, 8KB, 60.00%)",
			Progress{Percent: 60, File: "/pgdata/pg15/base/16384/1259", Bytes: 8192}, true},
		{"crlf", "P01 DETAIL: backup file /a (1B, 1.00%)\r\n", Progress{Percent: 1, File: "/a", Bytes: 1}, true},
		{"info line", "P00   INFO: backup start archive = 000000010000000000000051, lsn = 0/51000028", Progress{}, false},
		{"removed file", "P01 DETAIL: skip file removed by database c:/pgdata/pg15/base/5/t3_16420", Progress{}, false},
		{"garbage percent", "P01 DETAIL: backup file /a (1B, 101.00%)", Progress{}, false},
		{"empty", "", Progress{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := ParseProgress(tt.line)
			if ok != tt.ok || got != tt.want {
				t.Fatalf("got %+v, %v; want %+v, %v", got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestParseBackupLabel(t *testing.T) {
	tests := map[string]string{
		"2026-11-25 00:23:55.871 P00   INFO: new backup label = 20261125-002351F": "20261125-002351F",
		"P00   INFO: new backup label = 20261125-002616F_20261125-002641I":        "20261125-002616F_20261125-002641I",
		"P00   INFO: new backup label = 20261125-002616F_20261125-002630D\r":      "20261125-002616F_20261125-002630D",
		"P00   INFO: full backup size = 770.8MB, file total = 1272":               "",
		"P00   INFO: new backup label = 20261125-002351X":                         "",
	}
	for line, want := range tests {
		t.Run(line, func(t *testing.T) {
			got, ok := ParseBackupLabel(line)
			if got != want || ok != (want != "") {
				t.Fatalf("got %q, %v; want %q", got, ok, want)
			}
		})
	}
}

func TestParseCommandEnd(t *testing.T) {
	tests := []struct {
		line string
		want CommandEnd
		ok   bool
	}{
		{"2026-11-25 00:23:55.902 P00   INFO: backup command end: completed successfully (4561ms)",
			CommandEnd{Command: "backup", Success: true, Message: "completed successfully (4561ms)"}, true},
		{"P00   INFO: backup command end: completed successfully",
			CommandEnd{Command: "backup", Success: true, Message: "completed successfully"}, true},
		{"P00   INFO: restore command end: aborted with exception [040]",
			CommandEnd{Command: "restore", Code: 40, Message: "aborted with exception [040]"}, true},
		{"P00   INFO: backup command begin 2.45: --exec-id=123 --stanza=db", CommandEnd{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.line, func(t *testing.T) {
			got, ok := ParseCommandEnd(tt.line)
			if ok != tt.ok || got != tt.want {
				t.Fatalf("got %+v, %v; want %+v", got, ok, tt.want)
			}
		})
	}
}

func FuzzParseProgress(f *testing.F) {
	f.Add("P01 DETAIL: backup file c:/pgdata/pg15/base/5/1259 (112KB, 8.78%) checksum ab")
	f.Fuzz(func(t *testing.T, line string) {
		if p, ok := ParseProgress(line); ok && (p.Percent < 0 || p.Percent > 100 || p.Bytes < 0) {
			t.Fatalf("out of range: %+v", p)
		}
		ParseBackupLabel(line)
		ParseCommandEnd(line)
	})
}
