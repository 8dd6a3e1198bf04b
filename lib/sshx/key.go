// Package sshx is how virtdev talks SSH to its machines: the key pair, the
// checks every connecting program makes before it connects, the OpenSSH
// configuration virtdev-ssh assembles, the pre-ssh and post-ssh triggers, and
// the readiness probe behind virtdev-wait.
package sshx

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/crypto/ssh"

	"virtdev/lib/exitcode"
	"virtdev/lib/fsutil"
)

// ErrKeyExists is returned by GenerateKey when either file of the pair is
// already there.
var ErrKeyExists = errors.New("key exists")

// KeyExistsError names the file that made GenerateKey refuse.
type KeyExistsError struct {
	Path string
}

func (e *KeyExistsError) Error() string { return e.Path + " already exists" }
func (e *KeyExistsError) Unwrap() error { return ErrKeyExists }

// GenerateKey writes a new ed25519 pair in OpenSSH format: the private key at
// private (mode 600) and the authorized_keys line at public (mode 644),
// creating missing directories with mode 700.
//
// It never replaces a file: both are first written in full to temporary
// files beside their targets, then hard-linked into place, which fails if
// the target appeared meanwhile; the public key first, so that no program
// ever finds a private key whose public half is missing. A kill between
// the two links leaves the public key and the private key's temporary
// file, from which RecoverKey completes the pair.
func GenerateKey(private, public, comment string) error {
	for _, p := range []string{private, public} {
		if _, err := os.Lstat(p); err == nil {
			return &KeyExistsError{Path: p}
		} else if !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return err
	}
	block, err := ssh.MarshalPrivateKey(priv, comment)
	if err != nil {
		return err
	}
	sshPub, err := ssh.NewPublicKey(pub)
	if err != nil {
		return err
	}
	// MarshalAuthorizedKey ends the line with a newline; the comment goes
	// before it.
	line := ssh.MarshalAuthorizedKey(sshPub)
	line = append(line[:len(line)-1], " "+comment+"\n"...)

	for _, p := range []string{private, public} {
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			return err
		}
	}
	privTemp, err := writeTemp(private, pem.EncodeToMemory(block), 0o600)
	if err != nil {
		return err
	}
	defer os.Remove(privTemp)
	pubTemp, err := writeTemp(public, line, 0o644)
	if err != nil {
		return err
	}
	defer os.Remove(pubTemp)

	if err := publish(pubTemp, public); err != nil {
		return err
	}
	if err := publish(privTemp, private); err != nil {
		os.Remove(public)
		return err
	}
	return nil
}

// RecoverKey puts right what a key generation killed on the way left
// beside the key: when one half of the pair is in place and a temporary
// file there holds the other half, matching it, the pair is completed;
// every other temporary file of the pair is removed. It returns what it
// did, for people, and whether it completed the pair. No other key
// generation may run meanwhile.
func RecoverKey(private, public string) (done []string, completed bool, err error) {
	dir := filepath.Dir(private)
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	for _, e := range entries {
		temp := filepath.Join(dir, e.Name())
		for _, half := range []struct{ target, private, public string }{
			{private, temp, public}, {public, private, temp},
		} {
			if !strings.HasPrefix(e.Name(), "."+filepath.Base(half.target)+fsutil.TempMarker) {
				continue
			}
			if _, err := os.Lstat(half.target); errors.Is(err, fs.ErrNotExist) && pair(half.private, half.public) {
				if err := publish(temp, half.target); err != nil {
					return done, completed, err
				}
				completed = true
				done = append(done, fmt.Sprintf("completed the key pair an interrupted virtdev-key left: %s and %s", private, public))
			}
			if err := os.Remove(temp); err != nil {
				return done, completed, err
			}
			done = append(done, fmt.Sprintf("removed %s, a temporary file of an interrupted virtdev-key", temp))
		}
	}
	return done, completed, nil
}

// pair reports whether the files private and public hold the two halves of
// one key.
func pair(private, public string) bool {
	line, err := os.ReadFile(public)
	if err != nil {
		return false
	}
	want, _, _, _, err := ssh.ParseAuthorizedKey(line)
	if err != nil {
		return false
	}
	signer, err := LoadSigner(private)
	return err == nil && bytes.Equal(signer.PublicKey().Marshal(), want.Marshal())
}

// writeTemp writes data, synced, to a new file in the directory of target.
func writeTemp(target string, data []byte, mode fs.FileMode) (string, error) {
	f, err := os.CreateTemp(filepath.Dir(target), "."+filepath.Base(target)+fsutil.TempMarker+"*")
	if err != nil {
		return "", err
	}
	name := f.Name()
	err = f.Chmod(mode)
	if err == nil {
		_, err = f.Write(data)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(name)
		return "", fmt.Errorf("cannot write %s: %w", target, err)
	}
	return name, nil
}

// publish links temp to target, refusing to replace an existing target.
func publish(temp, target string) error {
	if err := os.Link(temp, target); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return &KeyExistsError{Path: target}
		}
		return err
	}
	return nil
}

// CheckKey makes sure the private key at path is there and readable by its
// owner only, as ssh itself insists, before a program tries to use it: exit
// 77 when it is missing, 78 when its group or others have any access, as
// OpenSSH itself would refuse it then.
func CheckKey(path string) error {
	info, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return exitcode.New(exitcode.KeyMissing,
			"SSH key not found: %s\nGenerate one with: virtdev-key\n(or set VIRTDEV_SSH_KEY to the key you use)", path)
	}
	if err != nil {
		return exitcode.Wrap(exitcode.KeyMissing, err, "cannot read SSH key %s", path)
	}
	if !info.Mode().IsRegular() {
		return exitcode.New(exitcode.KeyMissing,
			"SSH key %s is not a regular file\nPoint VIRTDEV_SSH_KEY at a private key file, or generate one with: virtdev-key", path)
	}
	if perm := info.Mode().Perm(); perm&0o077 != 0 {
		return exitcode.New(exitcode.KeyPermissions,
			"SSH key permissions too open: %s has mode %03o; no one but you may have access\nFix with: chmod 600 %s", path, perm, path)
	}
	return nil
}

// LoadSigner reads an unencrypted private key for the readiness probe.
func LoadSigner(path string) (ssh.Signer, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	signer, err := ssh.ParsePrivateKey(data)
	var missing *ssh.PassphraseMissingError
	if errors.As(err, &missing) {
		return nil, fmt.Errorf("%s is protected by a passphrase; virtdev needs a key without one (virtdev-key makes such a key)", path)
	}
	if err != nil {
		return nil, fmt.Errorf("%s is not a private key OpenSSH can read: %w", path, err)
	}
	return signer, nil
}
