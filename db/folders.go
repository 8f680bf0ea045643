package db

import (
	"context"
	"database/sql"
	"fmt"
)

// Folder create states on the target.
const (
	CreateExisting = "existing"
	CreateSending  = "creating"
	CreateCreated  = "created"
)

// Folder states.
const (
	FolderPending  = "pending"
	FolderVerified = "verified"
	FolderRemoved  = "removed"
)

// Folder is the plan and checkpoint of one source folder of a move.
type Folder struct {
	ID, MoveID        int64
	Source, Target    string
	SpecialUse        string
	Subscribed        bool
	SubscribedByUs    bool
	NoSelect          bool
	CreateState       string
	SourceUIDValidity uint32
	TargetUIDValidity uint32
	TargetUIDFloor    uint32
	State             string
	MsgsTotal         int64
	BytesTotal        int64
}

const folderColumns = `id, move_id, source_name, target_name, special_use, subscribed, subscribed_by_us, no_select,
	create_state, source_uidvalidity, target_uidvalidity, target_uid_floor, state, msgs_total, bytes_total`

func scanFolder(row interface{ Scan(...any) error }) (Folder, error) {
	var f Folder
	var sub, subUs, nosel int
	err := row.Scan(&f.ID, &f.MoveID, &f.Source, &f.Target, &f.SpecialUse, &sub, &subUs, &nosel,
		&f.CreateState, &f.SourceUIDValidity, &f.TargetUIDValidity, &f.TargetUIDFloor, &f.State,
		&f.MsgsTotal, &f.BytesTotal)
	f.Subscribed, f.SubscribedByUs, f.NoSelect = sub != 0, subUs != 0, nosel != 0
	return f, err
}

// Folders returns the folders of a move, in the order they were planned.
func (d *DB) Folders(ctx context.Context, moveID int64) ([]Folder, error) {
	rows, err := d.sql.QueryContext(ctx, `SELECT `+folderColumns+` FROM folders
		WHERE move_id = ? ORDER BY id`, moveID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var fs []Folder
	for rows.Next() {
		f, err := scanFolder(rows)
		if err != nil {
			return nil, err
		}
		fs = append(fs, f)
	}
	return fs, rows.Err()
}

// AddFolder records a newly planned folder. A folder already recorded for
// this source name is returned unchanged: the first plan wins, so a resumed
// move keeps the target names and create states it started with.
func (d *DB) AddFolder(ctx context.Context, f Folder) (Folder, error) {
	tx, err := d.sql.BeginTx(ctx, nil)
	if err != nil {
		return Folder{}, err
	}
	defer tx.Rollback()
	if f.State == "" {
		f.State = FolderPending
	}
	if f.CreateState == "" {
		f.CreateState = CreateExisting
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO folders (move_id, source_name, target_name, special_use,
		subscribed, no_select, create_state, state) VALUES (?,?,?,?,?,?,?,?)
		ON CONFLICT (move_id, source_name) DO NOTHING`,
		f.MoveID, f.Source, f.Target, f.SpecialUse, boolInt(f.Subscribed), boolInt(f.NoSelect),
		f.CreateState, f.State)
	if err != nil {
		return Folder{}, fmt.Errorf("add folder %q: %w", f.Source, err)
	}
	got, err := scanFolder(tx.QueryRowContext(ctx, `SELECT `+folderColumns+` FROM folders
		WHERE move_id = ? AND source_name = ?`, f.MoveID, f.Source))
	if err != nil {
		return Folder{}, err
	}
	return got, tx.Commit()
}

// SaveFolder writes every mutable column of f.
func (d *DB) SaveFolder(ctx context.Context, f Folder) error {
	_, err := d.sql.ExecContext(ctx, `UPDATE folders SET target_name = ?, subscribed = ?, subscribed_by_us = ?,
		no_select = ?, create_state = ?, source_uidvalidity = ?, target_uidvalidity = ?, target_uid_floor = ?,
		state = ?, msgs_total = ?, bytes_total = ? WHERE id = ?`,
		f.Target, boolInt(f.Subscribed), boolInt(f.SubscribedByUs), boolInt(f.NoSelect), f.CreateState, f.SourceUIDValidity,
		f.TargetUIDValidity, f.TargetUIDFloor, f.State, f.MsgsTotal, f.BytesTotal, f.ID)
	if err != nil {
		return fmt.Errorf("save folder %q: %w", f.Source, err)
	}
	return nil
}

// DeleteFolder forgets a folder and its copies (used when the source folder
// disappeared before anything was copied, or after cleanup).
func (d *DB) DeleteFolder(ctx context.Context, id int64) error {
	_, err := d.sql.ExecContext(ctx, `DELETE FROM folders WHERE id = ?`, id)
	return err
}

// ResetFolder forgets every copy of a folder and its UIDVALIDITY checkpoint,
// for when either side's UIDVALIDITY changed and the UIDs mean nothing now.
func (d *DB) ResetFolder(ctx context.Context, f Folder) error {
	tx, err := d.sql.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `DELETE FROM copies WHERE folder_id = ?`, f.ID); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `UPDATE folders SET source_uidvalidity = 0, target_uidvalidity = 0,
		target_uid_floor = 0, state = ? WHERE id = ?`, FolderPending, f.ID); err != nil {
		return err
	}
	return tx.Commit()
}

func execTx(ctx context.Context, d *DB, fn func(tx *sql.Tx) error) error {
	tx, err := d.sql.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := fn(tx); err != nil {
		return err
	}
	return tx.Commit()
}
