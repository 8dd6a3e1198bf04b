package rebuild

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestResume(t *testing.T) {
	all := Plan{Project: "p", Skipped: map[Step]string{}, Provision: "/my scripts/provision"}
	const id = "2026-01-02/03-04-05"
	for _, tc := range []struct {
		plan Plan
		step Step
		want []string
	}{
		{all, Stop, []string{"virtdev-stop p", "virtdev-destroy --yes p", "virtdev-create p", "virtdev-start p", "virtdev-wait p",
			"virtdev-ssh p -- bash -s < '/my scripts/provision'", "virtdev-restore p " + id}},
		{all, Wait, []string{"virtdev-wait p", "virtdev-ssh p -- bash -s < '/my scripts/provision'", "virtdev-restore p " + id}},
		{all, Restore, []string{"virtdev-restore p " + id}},
		// Skipped steps are not resumed.
		{Plan{Project: "p", Skipped: map[Step]string{Provision: "", Restore: ""}}, Destroy,
			[]string{"virtdev-destroy --yes p", "virtdev-create p", "virtdev-start p", "virtdev-wait p"}},
		// A failed backup changed nothing: the same recreate resumes.
		{Plan{Project: "p", Options: Options{NoRestore: true, Provision: "it's"}}, Backup,
			[]string{`virtdev-recreate --no-restore --provision 'it'\''s' p`}},
	} {
		if got := resume(tc.plan, tc.step, id); !slices.Equal(got, tc.want) {
			t.Errorf("resume from %s = %q\nwant %q", tc.step, got, tc.want)
		}
	}
}

func TestDescribe(t *testing.T) {
	p := Plan{Project: "p", Skipped: map[Step]string{Backup: "--no-backup", Stop: "the machine is stopped"}, Provision: "/x", Snapshot: "2026-01-02/03-04-05"}
	want := `Recreating p:
  --  backup     (skipped: --no-backup)
  --  stop       (skipped: the machine is stopped)
   1. destroy    the machine's disks; backups and configuration stay
   2. create     on the current sealed base
   3. start
   4. wait
   5. provision  /x
   6. restore    snapshot 2026-01-02/03-04-05
What is on the machine's disks and not in the snapshot is lost.`
	if got := p.Describe(); got != want {
		t.Errorf("Describe:\n%s\nwant:\n%s", got, want)
	}
	if active := p.Active(); !slices.Equal(active, []Step{Destroy, Create, Start, Wait, Provision, Restore}) {
		t.Errorf("Active = %v", active)
	}
	p.Skipped[Restore] = "--no-restore"
	if got := p.Describe(); !strings.HasSuffix(got, "nothing is restored.") {
		t.Errorf("without a restore: %s", got)
	}
}

func TestStepError(t *testing.T) {
	e := &StepError{Step: Create, Err: errors.New("broken"), Project: "p", Snapshot: "2026-01-02/03-04-05", Resume: []string{"virtdev-create p"}}
	want := "create of p failed: broken\nThe old machine is gone, and the new one was not made (nothing of it is left).\nThe snapshot 2026-01-02/03-04-05 is kept.\nResume from this step, once its cause is fixed, with:\n    virtdev-create p"
	if e.Error() != want {
		t.Errorf("%q\nwant %q", e.Error(), want)
	}
}

func TestSummarize(t *testing.T) {
	u := Upgrade{
		Members: []Member{{Name: "a"}, {Name: "b"}, {Name: "c"}, {Name: "d"}},
		Left:    []Left{{"e", "detached: it does not use the base"}, {"f", "--except"}},
	}
	failed := &StepError{Step: Restore, Project: "b", Err: errors.New("lost"), Resume: []string{"virtdev-restore b 2026-01-02/03-04-05"}}
	s := Summarize(u, []Outcome{
		{Project: "a", Snapshot: "2026-01-02/03-04-05"},
		{Project: "b", Snapshot: "2026-01-02/03-04-05", Err: failed},
		{Project: "c", Snapshot: "2026-01-02/03-04-06", Err: errors.New("refused\nwith details")},
	})
	want := `PROJECT                         RESULT                          SNAPSHOT
a                               upgraded                        2026-01-02/03-04-05
b                               failed at restore               2026-01-02/03-04-05
c                               failed                          2026-01-02/03-04-06
d                               not rebuilt                     -
e                               left: detached                  -
f                               left: --except                  -
`
	if s.Table != want {
		t.Errorf("table:\n%s\nwant:\n%s", s.Table, want)
	}
	finish := s.Finish()
	for _, line := range []string{
		"3 of 4 project(s) could not be rebuilt",
		"b: restore of b failed: lost\n    virtdev-restore b 2026-01-02/03-04-05",
		"c: refused\n    virtdev-recreate --no-backup c",
		"d: not rebuilt: the upgrade was interrupted\n    virtdev-recreate --no-backup d",
	} {
		if !strings.Contains(finish, line) {
			t.Errorf("Finish() lacks %q:\n%s", line, finish)
		}
	}
	if s := Summarize(u, []Outcome{{Project: "a"}, {Project: "b"}, {Project: "c"}, {Project: "d"}}); len(s.Failed) != 0 {
		t.Errorf("all upgraded, yet failed: %v", s.Failed)
	}
}
