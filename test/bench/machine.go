package main

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
)

// Machine describes where the figures were measured.
type Machine struct {
	CPUModel  string  `json:"cpuModel"`
	Cores     int     `json:"cores"`
	MemoryGiB float64 `json:"memoryGiB"`
	Kernel    string  `json:"kernel"`
	// Disk is the device holding the bench's work directory, the cluster's volumes and the S3
	// server's directory (all on one file system here), with its type and size.
	Disk string `json:"disk"`
}

// DescribeMachine reads the CPU, memory, kernel and the disk under dir from /proc, /sys and df.
func DescribeMachine(dir string) Machine {
	m := Machine{Cores: runtime.NumCPU(), CPUModel: cpuModel(), MemoryGiB: memoryGiB()}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	m.Disk = disk(dir)
	return m
}

func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return runtime.GOARCH
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return runtime.GOARCH
}

func memoryGiB() float64 {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(b)) {
		f := strings.Fields(line)
		if len(f) >= 2 && f[0] == "MemTotal:" {
			kb, _ := strconv.ParseFloat(f[1], 64)
			return float64(int(kb/(1<<20)*10)) / 10
		}
	}
	return 0
}

// disk says "/dev/vda (ext4, 252G, rotational=0)" for the file system holding dir.
func disk(dir string) string {
	// The directory may not exist yet: describe its nearest existing parent.
	for dir != "/" {
		if _, err := os.Stat(dir); err == nil {
			break
		}
		dir = filepath.Dir(dir)
	}
	out, err := exec.Command("df", "--output=source,fstype,size", "-h", dir).Output()
	if err != nil {
		return "unknown"
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	f := strings.Fields(lines[len(lines)-1])
	if len(f) < 3 {
		return "unknown"
	}
	desc := f[0] + " (" + f[1] + ", " + f[2]
	if rot, err := os.ReadFile(filepath.Join("/sys/block", filepath.Base(f[0]), "queue/rotational")); err == nil {
		kind := "SSD or virtual"
		if strings.TrimSpace(string(rot)) == "1" {
			kind = "rotational"
		}
		desc += ", " + kind
	}
	return desc + ")"
}
