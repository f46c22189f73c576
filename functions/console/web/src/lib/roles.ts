// What each access role may do, as the API decides it (shared/src/authz.rs, README "Share it"):
// collaborators view, test and use; operators also refresh tokens; admins edit, delete, restore,
// connect and share up to operator; only the owner grants admin and transfers ownership.
import type { Role } from '../api/client';

export const roles: readonly Role[] = ['collaborator', 'operator', 'admin', 'owner'];

export function atLeast(role: Role, minimum: Role): boolean {
  return roles.indexOf(role) >= roles.indexOf(minimum);
}

export const may = {
  test: (r: Role) => atLeast(r, 'collaborator'),
  refresh: (r: Role) => atLeast(r, 'operator'),
  edit: (r: Role) => atLeast(r, 'admin'),
  remove: (r: Role) => atLeast(r, 'admin'),
  restore: (r: Role) => atLeast(r, 'admin'),
  connect: (r: Role) => atLeast(r, 'admin'),
  share: (r: Role) => atLeast(r, 'admin'),
  transferOwnership: (r: Role) => r === 'owner',
};

/** The roles a caller may hand out (never `owner`: that is an ownership transfer). */
export function grantableRoles(caller: Role): Role[] {
  if (caller === 'owner') return ['collaborator', 'operator', 'admin'];
  if (caller === 'admin') return ['collaborator', 'operator'];
  return [];
}

/** Whether a caller may change or revoke an existing grant of `role`. */
export function mayChangeGrant(caller: Role, role: Role): boolean {
  return role !== 'owner' && grantableRoles(caller).includes(role);
}

export const roleWords: Record<Role, string> = {
  collaborator: 'Collaborator',
  operator: 'Operator',
  admin: 'Admin',
  owner: 'Owner',
};
