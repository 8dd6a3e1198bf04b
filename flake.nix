{
  description = "virtdev: a disposable QEMU virtual machine for every project";

  # A NixOS release branch, pinned in flake.lock. It ships Go 1.26, the
  # version go.work and the modules name.
  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-26.05";

  outputs =
    { self, nixpkgs }:
    let
      inherit (nixpkgs) lib;

      # Guests are x86_64 q35 machines booting OVMF.
      systems = [ "x86_64-linux" ];
      forEachSystem = f: lib.genAttrs systems (system: f system nixpkgs.legacyPackages.${system});

      # Every program is a directory tools/virtdev or tools/virtdev-<verb>:
      # one added there is built, wrapped and completed without an edit here.
      programs = lib.attrNames (
        lib.filterAttrs (
          name: type: type == "directory" && (name == "virtdev" || lib.hasPrefix "virtdev-" name)
        ) (builtins.readDir ./tools)
      );

      # The NAR hash of `go work vendor` run on this tree: the third-party
      # packages that lib/, tools/ and tests/ import, never the workspace's
      # own code, so it changes only with the dependencies. `make flake-check`
      # recomputes it offline and prints the value to put here.
      vendorHash = "sha256-3FJ3/sn0LFWnIjEdWWODC7vF0NQ6u9b7cDWHg0HE/k8=";

      # What the programs run. qemu_kvm is QEMU for the host's architecture:
      # qemu-system-x86_64, qemu-img, and the edk2 (OVMF) firmware with its
      # descriptors in share/qemu/firmware, where virtdev looks beside the
      # QEMU it runs.
      runtime = pkgs: {
        qemu = pkgs.qemu_kvm;
        inherit (pkgs) openssh rsync;
      };

      packageFor =
        pkgs:
        pkgs.buildGo126Module {
          pname = "virtdev";
          version = "0-unstable-" + lib.substring 0 8 (self.lastModifiedDate or "19700101");

          # The packaging and CI files stay out, so editing them rebuilds nothing.
          src = lib.cleanSourceWith {
            name = "virtdev-source";
            src = ./.;
            filter =
              path: _type:
              !lib.elem (lib.removePrefix "${toString ./.}/" (toString path)) [
                "flake.nix"
                "flake.lock"
                "packaging"
                ".ci"
                "README.md"
                "bench"
                "scripts"
              ];
          };

          inherit vendorHash;
          # The build runs at the workspace root, in workspace mode (go.work),
          # and so does the vendoring: `go work vendor` keeps lib/ out of
          # vendor/. (`go mod vendor` in tools/ with GOWORK=off would copy
          # lib/ in through the replace directive, and every edit of lib/
          # would change vendorHash.)
          overrideModAttrs = _: {
            buildPhase = ''
              runHook preBuild
              go work vendor
              runHook postBuild
            '';
          };
          subPackages = map (program: "tools/${program}") programs;

          nativeBuildInputs = [
            pkgs.installShellFiles
            pkgs.makeBinaryWrapper
            pkgs.scdoc
          ];

          # The unit tests of lib/ and the contract tests of every program, as
          # `make test` runs them. The end-to-end suite (tests/e2e) cannot run
          # in the build sandbox: it boots real guests as units of a systemd
          # user manager over a user bus, neither of which the sandbox has, and
          # builds their Debian base with mmdebstrap from the network, which
          # the sandbox cuts. .ci/run runs it on a real machine instead.
          checkPhase = ''
            runHook preCheck
            make test
            runHook postCheck
          '';

          postBuild = ''
            make man
          '';

          postInstall = ''
            installManPage man/*.[1-9]
            installShellCompletion --cmd virtdev \
              --bash completions/virtdev.bash \
              --zsh completions/virtdev.zsh \
              --fish completions/virtdev.fish
            # bash-completion and fish load a command's completion from the
            # file named after it; the one file serves every program.
            for program in ${lib.escapeShellArgs programs}; do
              [ "$program" = virtdev ] && continue
              ln -s virtdev.bash $out/share/bash-completion/completions/$program.bash
              ln -s virtdev.fish $out/share/fish/vendor_completions.d/$program.fish
            done
            for program in $out/bin/*; do
              wrapProgram "$program" --prefix PATH : ${lib.makeBinPath (lib.attrValues (runtime pkgs))}
            done
          '';

          # Every wrapped program answers, and the dispatcher finds every
          # other one beside itself through the wrappers.
          doInstallCheck = true;
          installCheckPhase = ''
            runHook preInstallCheck
            for program in ${lib.escapeShellArgs programs}; do
              $out/bin/$program --help >/dev/null
              [ "$program" = virtdev ] || $out/bin/virtdev help ''${program#virtdev-} >/dev/null
            done
            runHook postInstallCheck
          '';

          meta = {
            description = "Per-project QEMU virtual machines for isolated development";
            mainProgram = "virtdev";
            platforms = systems;
          };
        };
    in
    {
      packages = forEachSystem (
        system: pkgs:
        let
          virtdev = packageFor pkgs;
        in
        {
          inherit virtdev;
          default = virtdev;
        }
      );

      apps = forEachSystem (system: pkgs: {
        default = {
          type = "app";
          program = lib.getExe self.packages.${system}.default;
          meta.description = "virtdev, the dispatcher: virtdev <verb> runs virtdev-<verb>";
        };
      });

      devShells = forEachSystem (system: pkgs: {
        default = pkgs.mkShell {
          packages = lib.attrValues (runtime pkgs) ++ [
            pkgs.go_1_26
            pkgs.gnumake
            pkgs.git
            pkgs.scdoc
            pkgs.man-db
            # What the end-to-end suite needs to build a Debian base (rootless
            # mmdebstrap also needs the host's setuid newuidmap and its
            # /etc/subuid ranges).
            pkgs.socat
            pkgs.mmdebstrap
            pkgs.util-linux
            pkgs.e2fsprogs
            pkgs.dosfstools
            pkgs.mtools
          ];
        };
      });

      checks = forEachSystem (
        system: pkgs:
        let
          inherit (runtime pkgs) qemu;
        in
        {
          # Builds every program and runs the unit and contract tests (its
          # checkPhase) and the wrapped programs (its installCheckPhase).
          package = self.packages.${system}.default;

          # virtdev finds OVMF through QEMU's firmware descriptors: the QEMU
          # the programs are wrapped with must ship an x86_64 UEFI flash build
          # that needs no SMM, with both of its files present.
          firmware =
            pkgs.runCommand "virtdev-firmware-check" { nativeBuildInputs = [ pkgs.jq ]; }
              ''
                found=
                for descriptor in ${qemu}/share/qemu/firmware/*.json; do
                  jq -e '(."interface-types" | index("uefi")) and .mapping.device == "flash"
                    and any(.targets[]; .architecture == "x86_64")
                    and ((.features // []) | index("requires-smm") | not)' "$descriptor" >/dev/null || continue
                  code=$(jq -r .mapping.executable.filename "$descriptor")
                  vars=$(jq -r '.mapping."nvram-template".filename' "$descriptor")
                  if [ -f "$code" ] && [ -f "$vars" ]; then
                    echo "$descriptor: $code, $vars"
                    found=1
                  fi
                done
                if [ -z "$found" ]; then
                  echo "no usable x86_64 UEFI descriptor in ${qemu}/share/qemu/firmware" >&2
                  exit 1
                fi
                touch $out
              '';
        }
      );
    };
}
