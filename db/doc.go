// Package db stores jobs, moves and per-folder progress in SQLite.
package db
