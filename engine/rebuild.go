package engine

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/screenrec/recorder/engine/catalog"
	"github.com/screenrec/recorder/engine/mux"
	"github.com/screenrec/recorder/engine/pipeline"
)

// Errors of the catalog guard, re-exported so that hosts need not import engine/catalog.
var (
	// ErrCatalogDamaged: the spool's catalog file fails its integrity check. New refuses to
	// start; RebuildCatalog moves the file aside and rebuilds it from the recordings' files.
	ErrCatalogDamaged = catalog.ErrDamaged
	// ErrCatalogEmpty: the spool's catalog file is missing or empty although the spool holds
	// recordings. New refuses to start; RebuildCatalog rebuilds it.
	ErrCatalogEmpty = catalog.ErrEmpty
)

// OpenCatalog opens the catalog of the spool cfg.SpoolDir as New does, for tools that work on
// it without an engine (listing upload jobs, say): a damaged one is refused
// (ErrCatalogDamaged), and so is a missing or empty one when the spool holds recordings
// (ErrCatalogEmpty); the error then names the file and how to rebuild it.
func OpenCatalog(ctx context.Context, cfg Config) (*catalog.Catalog, error) {
	path := filepath.Join(cfg.SpoolDir, catalogFile)
	has, err := spoolHasRecordings(cfg.SpoolDir)
	if err != nil {
		return nil, fmt.Errorf("engine: spool_dir: %w", err)
	}
	copts := []catalog.Option{catalog.WithExistingRecordings(has)}
	if cfg.ContactIDBase > 0 {
		copts = append(copts, catalog.WithContactIDBase(cfg.ContactIDBase))
	}
	cat, err := catalog.Open(ctx, path, copts...)
	if errors.Is(err, catalog.ErrDamaged) || errors.Is(err, catalog.ErrEmpty) {
		return nil, fmt.Errorf("engine: %w; stop the service and run `recorder catalog rebuild --spool %s` to rebuild it "+
			"from the recordings' files (the old file is kept as %s.damaged-<time>)", err, cfg.SpoolDir, path)
	}
	if err != nil {
		return nil, fmt.Errorf("engine: %w", err)
	}
	return cat, nil
}

// CheckSpoolCatalog checks the catalog file of a spool folder without opening an engine or
// changing anything, as New would judge it: a damaged file gives the report and an error
// wrapping ErrCatalogDamaged; a missing or empty one while the spool holds recordings, one
// wrapping ErrCatalogEmpty. Errors name the file.
func CheckSpoolCatalog(ctx context.Context, spoolDir string) (catalog.Report, error) {
	path := filepath.Join(spoolDir, catalogFile)
	rep, err := catalog.Check(ctx, path)
	if err != nil {
		return rep, fmt.Errorf("engine: catalog %s: %w", path, err)
	}
	if rep.Empty {
		has, err := spoolHasRecordings(spoolDir)
		if err != nil {
			return rep, fmt.Errorf("engine: spool_dir: %w", err)
		}
		if has {
			return rep, fmt.Errorf("engine: catalog %s: %w", path, ErrCatalogEmpty)
		}
	}
	return rep, nil
}

// spoolHasRecordings reports whether the spool holds a recording: a recording folder
// (named like newID's ids) or an MP4 file in a folder of its own.
func spoolHasRecordings(spool string) (bool, error) {
	entries, err := os.ReadDir(spool)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		if strings.HasPrefix(e.Name(), "rec-") {
			return true, nil
		}
		if m, _ := filepath.Glob(filepath.Join(spool, e.Name(), "*.mp4")); len(m) > 0 {
			return true, nil
		}
	}
	return false, nil
}

// RebuildReport says what RebuildCatalog did.
type RebuildReport struct {
	// Catalog is the rebuilt file.
	Catalog string `json:"catalog"`
	// MovedAside is where the old file went ("" when there was none).
	MovedAside string `json:"moved_aside,omitempty"`
	// Recordings are the recordings restored, by contact id.
	Recordings []RebuiltRecording `json:"recordings"`
	// Skipped lists the files that could not be read as a recording's segment, with why.
	Skipped []string `json:"skipped,omitempty"`
	// LastContactID is the last contact id in use: the next recording gets a higher one.
	LastContactID int64 `json:"last_contact_id"`
	// Uploads is how many upload jobs were queued.
	Uploads int `json:"uploads"`
}

// RebuiltRecording is one recording RebuildCatalog restored.
type RebuiltRecording struct {
	ID        string `json:"id"`
	ContactID int64  `json:"contact_id"`
	Owner     string `json:"owner"`
	State     string `json:"state"`
	Segments  int    `json:"segments"`
}

// RebuildCatalog rebuilds the spool's catalog from the recordings' files, for a catalog that
// is damaged, empty or lost. The engine must not be running on the spool. The old file (with
// its -wal and -shm) is moved aside to catalog.db.damaged-<time>, never deleted; a sound,
// non-empty catalog is only replaced when force is set.
//
// Every MP4 file in a folder of the spool is read: its container tags give the recording id,
// owner, front end, reason, labels, contact and interaction ids, segment index and wall-clock
// start; mux.Inspect gives its playable duration and whether it was cut short. A file cut
// short (a crash, a full disk) is cut back to its last complete fragment, as crash recovery
// does. A recording whose files all ended properly is completed; one with a file cut short is
// completed and interrupted; one with nothing playable is failed. What the files do not carry
// is lost: masked intervals, geometry, error texts, upload progress.
//
// Every playable segment is queued for upload to each of cfg.UploadTargets: the catalog that knew
// which ones were delivered is gone, and sending a segment twice is better than never. The
// contact-id counter is set above every id seen in the files and, as far as it can still be
// read, above the old file's counter, so ids stay unique and increasing.
func RebuildCatalog(ctx context.Context, cfg Config, force bool) (RebuildReport, error) {
	if cfg.SpoolDir == "" {
		return RebuildReport{}, errors.New("engine: rebuild catalog: no spool_dir")
	}
	cfg = cfg.withDefaults()
	path := filepath.Join(cfg.SpoolDir, catalogFile)
	rep := RebuildReport{Catalog: path}
	old, err := catalog.Check(ctx, path)
	if err != nil && !errors.Is(err, catalog.ErrDamaged) {
		return rep, fmt.Errorf("engine: rebuild catalog %s: %w", path, err)
	}
	if err == nil && !old.Empty && !force {
		return rep, fmt.Errorf("engine: rebuild catalog %s: the catalog is sound (%d recordings); rebuild it anyway with force", path, old.Recordings)
	}
	salvaged, _ := catalog.LastContactID(ctx, path)

	recs, skipped, err := scanSpool(cfg.SpoolDir)
	if err != nil {
		return rep, fmt.Errorf("engine: rebuild catalog: %w", err)
	}
	rep.Skipped = skipped

	if rep.MovedAside, err = catalog.MoveAside(path, time.Now()); err != nil {
		return rep, fmt.Errorf("engine: rebuild catalog: %w", err)
	}
	var copts []catalog.Option
	if cfg.ContactIDBase > 0 {
		copts = append(copts, catalog.WithContactIDBase(cfg.ContactIDBase))
	}
	cat, err := catalog.Open(ctx, path, copts...)
	if err != nil {
		return rep, fmt.Errorf("engine: rebuild catalog: %w", err)
	}
	defer cat.Close()
	for _, r := range recs {
		row, segs, err := r.restore()
		if err != nil {
			rep.Skipped = append(rep.Skipped, fmt.Sprintf("%s: %v", r.id, err))
			continue
		}
		if _, err := cat.Restore(ctx, row, segs); err != nil {
			return rep, fmt.Errorf("engine: rebuild catalog: %w", err)
		}
		for _, target := range cfg.UploadTargets {
			jobs, err := cat.EnqueueUploads(ctx, row.ID, target)
			if err != nil {
				return rep, fmt.Errorf("engine: rebuild catalog: %w", err)
			}
			rep.Uploads += len(jobs)
		}
		rep.Recordings = append(rep.Recordings, RebuiltRecording{ID: row.ID, ContactID: row.ContactID,
			Owner: row.Owner, State: row.State, Segments: len(segs)})
	}
	if err := cat.RaiseContactID(ctx, salvaged); err != nil {
		return rep, fmt.Errorf("engine: rebuild catalog: %w", err)
	}
	if rep.LastContactID, err = cat.LastContactID(ctx); err != nil {
		return rep, fmt.Errorf("engine: rebuild catalog: %w", err)
	}
	return rep, cat.Close()
}

// fileSegment is one MP4 file found in the spool, with what its tags and boxes say.
type fileSegment struct {
	path    string
	tags    map[string]string
	index   int
	start   time.Time
	inspect mux.RepairResult
	modTime time.Time
}

// foundRecording gathers the files of one recording id.
type foundRecording struct {
	id   string
	segs []fileSegment
}

// scanSpool reads the tags of every MP4 file in a folder of spool and groups them by
// recording, ordered by contact id. Files that are not a recording's segment are skipped,
// with why.
func scanSpool(spool string) ([]*foundRecording, []string, error) {
	files, err := filepath.Glob(filepath.Join(spool, "*", "*.mp4"))
	if err != nil {
		return nil, nil, err
	}
	byID := map[string]*foundRecording{}
	var skipped []string
	for _, f := range files {
		seg, err := readSegment(f)
		if err != nil {
			skipped = append(skipped, fmt.Sprintf("%s: %v", f, err))
			continue
		}
		id := seg.tags[pipeline.MetaRecordingID]
		r := byID[id]
		if r == nil {
			r = &foundRecording{id: id}
			byID[id] = r
		}
		r.segs = append(r.segs, seg)
	}
	recs := slices.Collect(maps.Values(byID))
	for _, r := range recs {
		slices.SortFunc(r.segs, func(a, b fileSegment) int { return a.index - b.index })
	}
	contact := func(r *foundRecording) int64 {
		n, _ := strconv.ParseInt(r.segs[0].tags["contact_id"], 10, 64)
		return n
	}
	slices.SortFunc(recs, func(a, b *foundRecording) int {
		if c := cmp.Compare(contact(a), contact(b)); c != 0 {
			return c
		}
		return strings.Compare(a.id, b.id)
	})
	return recs, skipped, nil
}

// readSegment reads one file's tags and fragments.
func readSegment(path string) (fileSegment, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return fileSegment{}, err
	}
	fi, err := os.Stat(abs)
	if err != nil {
		return fileSegment{}, err
	}
	tags, err := mux.Tags(abs)
	if err != nil {
		return fileSegment{}, err
	}
	seg := fileSegment{path: abs, tags: tags, modTime: fi.ModTime().UTC()}
	if tags[pipeline.MetaRecordingID] == "" {
		return fileSegment{}, errors.New("no recording_id tag: not a recording's file")
	}
	if seg.index, err = strconv.Atoi(tags["segment"]); err != nil || seg.index < 0 {
		return fileSegment{}, fmt.Errorf("segment tag %q is not an index", tags["segment"])
	}
	if seg.start, err = time.Parse(time.RFC3339Nano, tags[pipeline.MetaStartTime]); err != nil {
		return fileSegment{}, fmt.Errorf("start_time tag: %w", err)
	}
	seg.inspect, err = mux.Inspect(abs)
	if err != nil && !errors.Is(err, mux.ErrNotFragmentedMP4) {
		return fileSegment{}, err
	}
	return seg, nil
}

// restore turns the files of one recording into its catalog row and segments, cutting a file
// cut short back to its last complete fragment.
func (r *foundRecording) restore() (catalog.Recording, []catalog.Segment, error) {
	first := r.segs[0]
	tags := first.tags
	contactID, err := strconv.ParseInt(tags["contact_id"], 10, 64)
	if err != nil || contactID < 1 {
		return catalog.Recording{}, nil, fmt.Errorf("contact_id tag %q is not an id", tags["contact_id"])
	}
	if tags["interaction_id"] == "" {
		return catalog.Recording{}, nil, errors.New("no interaction_id tag")
	}
	rec := catalog.Recording{ID: r.id, ContactID: contactID, InteractionID: tags["interaction_id"],
		Owner: tags[pipeline.MetaOwner], Frontend: tags["frontend"], Reason: tags["reason"],
		Encoder: tags[pipeline.MetaEncoder], CreatedAt: first.start, StartedAt: first.start}
	for k, v := range tags {
		if name, ok := strings.CutPrefix(k, "label_"); ok {
			if rec.Labels == nil {
				rec.Labels = map[string]string{}
			}
			rec.Labels[name] = v
		}
	}
	var segs []catalog.Segment
	var playable int // closed segments
	cut := false
	for _, f := range r.segs {
		res := f.inspect
		if res.Fragments > 0 && !res.Complete && res.Truncated > 0 {
			// Cut short mid-fragment: keep what plays, as crash recovery does.
			if res, err = mux.Repair(f.path); err != nil {
				return catalog.Recording{}, nil, err
			}
		}
		if !res.Complete {
			cut = true
		}
		sg := catalog.Segment{Index: f.index, Path: f.path, CreatedAt: f.start, Start: max(f.start.Sub(first.start), 0),
			Duration: res.Duration}
		// A file that ended properly is a closed segment even with no fragment (a recording
		// stopped before its first frame), as the engine recorded it.
		if res.Fragments > 0 || res.Complete {
			playable++
			sum, err := mux.SHA256File(f.path)
			if err != nil {
				return catalog.Recording{}, nil, err
			}
			sg.Bytes, sg.SHA256, sg.Closed, sg.ClosedAt = res.Size, sum, true, f.modTime
			if end := f.start.Add(res.Duration); end.After(rec.EndedAt) {
				rec.EndedAt = end
			}
		}
		rec.Duration = max(rec.Duration, sg.Start+sg.Duration)
		segs = append(segs, sg)
	}
	switch {
	case playable == 0:
		rec.State, rec.Error = StateFailed.String(), "rebuilt from its files: nothing playable"
		rec.EndedAt = first.modTime
	case cut:
		rec.State, rec.Interrupted = StateCompleted.String(), true
	default:
		rec.State = StateCompleted.String()
	}
	return rec, segs, nil
}
