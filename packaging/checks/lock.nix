# flake.lock against flake.nix, without fetching anything: a version 7 lock
# whose root names exactly the inputs flake.nix declares and its outputs
# function takes, each pinned to a revision with a content hash (narHash)
# and recorded with the reference flake.nix asks for.
#
#   nix-instantiate --eval --strict --arg flake ./flake.nix \
#     --arg lock ./flake.lock packaging/checks/lock.nix
#
# Evaluates to a summary, or fails listing every problem.
{ flake, lock }:
let
  declaration = import flake;
  data = builtins.fromJSON (builtins.readFile lock);
  sort = builtins.sort builtins.lessThan;
  concat = builtins.concatStringsSep;

  declared = sort (builtins.attrNames declaration.inputs);
  taken = sort (
    builtins.filter (name: name != "self") (builtins.attrNames (builtins.functionArgs declaration.outputs))
  );
  root = data.nodes.${data.root or "root"} or { };
  locked = sort (builtins.attrNames (root.inputs or { }));

  # github:OWNER/REPO or github:OWNER/REPO/REF, the only kind of input used.
  parseGithub = url: builtins.match "github:([^/]+)/([^/?]+)(/([^?]+))?" url;

  inputProblems =
    name:
    let
      url = declaration.inputs.${name}.url or "";
      github = parseGithub url;
      nodeName = root.inputs.${name} or null;
      node = data.nodes.${nodeName} or null;
      pin = node.locked or { };
      original = node.original or { };
      expectedRef = if github == null then null else builtins.elemAt github 3;
      check = ok: message: if ok then [ ] else [ "input ${name}: ${message}" ];
    in
    if !(builtins.isString nodeName) || node == null then
      [ "input ${name}: the lock's root names no node for it" ]
    else
      check (github != null) "flake.nix gives url \"${url}\"; this check knows github:OWNER/REPO[/REF] only"
      ++ check (pin.type or null == "github") "locked.type is not github"
      ++ check (builtins.match "[0-9a-f]{40}" (pin.rev or "") != null) "locked.rev is not a full commit id"
      ++ check (
        builtins.match "sha256-[A-Za-z0-9+/]{43}=" (pin.narHash or "") != null
      ) "locked.narHash is not a sha256 SRI hash"
      ++ check (builtins.isInt (pin.lastModified or null)) "locked.lastModified is missing"
      ++ (
        if github == null then
          [ ]
        else
          check (
            original.type or null == "github"
            && original.owner or null == builtins.elemAt github 0
            && original.repo or null == builtins.elemAt github 1
            && original.ref or null == expectedRef
          ) "the lock's original reference is not the url in flake.nix (${url}); run nix flake lock"
          ++ check (
            pin.owner or null == original.owner or null && pin.repo or null == original.repo or null
          ) "locked owner/repo differ from the original"
      );

  problems =
    (if data.version or null == 7 then [ ] else [ "version is ${toString (data.version or "missing")}, not 7" ])
    ++ (
      if declared == taken then
        [ ]
      else
        [ "flake.nix declares inputs [${concat " " declared}] but its outputs take [${concat " " taken}]" ]
    )
    ++ (
      if declared == locked then
        [ ]
      else
        [ "flake.nix declares inputs [${concat " " declared}] but the lock's root has [${concat " " locked}]; run nix flake lock" ]
    )
    ++ builtins.concatLists (map inputProblems declared);

  pins = map (
    name:
    let
      pin = data.nodes.${root.inputs.${name}}.locked;
    in
    "${name} = ${pin.owner}/${pin.repo}@${pin.rev} (${pin.narHash})"
  ) declared;
in
if problems == [ ] then
  concat "; " pins
else
  throw "flake.lock:\n  ${concat "\n  " problems}"
