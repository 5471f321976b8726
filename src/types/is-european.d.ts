// is-european ships no types; this is the part Keyledger uses.
declare module 'is-european' {
  /** true for a current EU member; takes ISO 3166-1 alpha-2, alpha-3, numeric or the English name */
  export function euMember(country: string | number): boolean;
  /** true for a member of the European Economic Area */
  export function eeaMember(country: string | number): boolean;
  const isEuropean: { euMember: typeof euMember; eeaMember: typeof eeaMember };
  export default isEuropean;
}
