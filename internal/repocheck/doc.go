// Package repocheck holds checks over the repository's tracked files as a whole: the
// repository must stand alone, so no file refers to a path outside it (a relative path
// climbing above the root, the absolute paths of the machines it was written on) or to an
// issue tracker's numbers, which mean nothing to a reader of the repository.
package repocheck
