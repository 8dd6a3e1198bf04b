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
