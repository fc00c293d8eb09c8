// Package mergepatch applies a JSON merge patch (RFC 7386, republished as
// RFC 7396) to a session's value: bytes in, bytes out, no I/O and no
// locking. A server applies it under the key's lock (Store.Update), so
// that a client sending only what one request changed never overwrites
// what another request changed meanwhile.
//
// # Rules
//
// Apply(target, patch) follows the RFC's MergePatch:
//
//   - A patch that is not an object (an array, string, number, true,
//     false or null) replaces the target whole.
//   - An object patch is merged into the target. If the target is not an
//     object (or is empty), it is taken as {} first.
//   - For each member of an object patch: null deletes the target's
//     member of that name (deleting an absent one is no error); an object
//     is merged into the target's member in the same way, recursively;
//     anything else replaces the target's member. Arrays are values like
//     any other: they replace, never merge, and nulls inside them stay.
//
// Where the RFC is silent, Apply decides:
//
//   - An empty target (zero bytes) is no value: an object patch gives the
//     patch without its nulls, anything else gives the patch.
//   - A target that is not empty and not JSON is an error wrapping
//     ErrTarget, whatever the patch: a corrupt session (or one in another
//     encoding, such as gob) is not silently replaced. A valid JSON target
//     that is not an object is replaced as the RFC says.
//   - A patch that is not JSON is an error wrapping ErrPatch that says
//     what is wrong and at which byte. The patch is checked before the
//     target, so a client's bad patch is reported as the client's.
//   - "Valid JSON" is what encoding/json's Valid accepts: one value, with
//     whitespace around it allowed; strings may hold bytes that are not
//     UTF-8.
//   - A name written twice in one object counts once, as encoding/json
//     and JavaScript's JSON.parse read it: at the place of its first
//     occurrence, with the value of its last. In the patch, so a later
//     {"a":null} after {"a":1} deletes. Names compare after decoding, so
//     "\u0061" and "a" are the same member.
//   - Nesting deeper than MaxDepth in either input is an error.
//
// # Output
//
// The result is compact JSON (no whitespace outside strings). Members
// keep the target's order, and new members follow in the patch's order,
// so a session written by JSON.stringify reads the same after a merge.
// Names, strings and numbers are copied byte for byte, never decoded and
// re-encoded: 1e400, 12345678901234567890 and "\u00e9" come out as they
// went in. An object that the patch does not touch is copied as written
// (compacted), duplicate names included.
//
// # Cost
//
// Time is linear in the size of target and patch: each input is read once
// without recursion, and members are matched by name through a hash table
// (with a random seed, so that chosen names cannot make it quadratic).
// Recursion follows only the patch's nested objects, at most MaxDepth.
// AppendApply with a reused dst allocates nothing in a steady state.
//
// # Concurrency
//
// Apply is safe for concurrent use. Applied under a session's lock, as
// the server does, merges compose the way their patches do: two merges
// that change different fields of one session both survive, in either
// order; two that change the same field leave the later one's value, as
// two whole-value writes would. A merge that deletes a field and one that
// sets a sibling of it both hold. The guarantee is the lock's, not this
// package's: a merge replicates as its resulting value, so two merges on
// two cluster nodes within the replication lag resolve as two whole-value
// writes do, by version.
package mergepatch
