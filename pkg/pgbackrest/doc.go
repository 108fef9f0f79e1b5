// Package pgbackrest holds the plugin's knowledge of pgBackRest 2.45: how its configuration files are
// rendered, which options a user may pass to which command, how `info --output=json` reads, how
// restore targets and backup progress are spelled, and how command lines are built.
//
// It is pure: standard library only, no Kubernetes, no I/O. Callers run the commands it builds
// (through pod exec) and feed it the output.
package pgbackrest
