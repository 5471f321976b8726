import { describe, expect, it } from 'vitest';
import { addressPatchSchema, newAddressSchema } from './addresses.ts';
import { listCountries } from './countries.ts';

const valid = { name: 'Grace Hopper', street: 'Damrak', house_number: '1', postal_code: '1012 LG', city: 'Amsterdam', country: 'nl' };
const problem = (schema: typeof newAddressSchema | typeof addressPatchSchema, input: unknown) => {
  const result = schema.safeParse(input);
  return result.success ? undefined : { path: result.error.issues[0]!.path.join('.'), message: result.error.issues[0]!.message };
};

describe('address validation', () => {
  it('normalises a valid address: trimmed text, upper-case country, blank optional fields cleared', () => {
    const parsed = newAddressSchema.parse({ ...valid, name: '  Grace Hopper ', label: '', phone: null });
    expect(parsed).toEqual({ ...valid, country: 'NL', label: null, phone: null });
  });

  it('names the field and says what is wrong', () => {
    expect(problem(newAddressSchema, { ...valid, city: undefined })).toEqual({ path: 'city', message: 'is required' });
    expect(problem(newAddressSchema, { ...valid, country: 'Nederland' })).toEqual({ path: 'country', message: 'must be an ISO 3166-1 alpha-2 code such as NL' });
    expect(problem(newAddressSchema, { ...valid, street: '\u0007' })?.path).toBe('street');
    expect(problem(newAddressSchema, { ...valid, house_number: 'x'.repeat(21) })).toEqual({ path: 'house_number', message: 'must be at most 20 characters' });
    expect(problem(newAddressSchema, { ...valid, extra: 1 })?.message).toMatch(/extra/);
  });

  it('a patch changes at least one field and may leave the rest out', () => {
    expect(addressPatchSchema.parse({ city: 'Utrecht' })).toEqual({ city: 'Utrecht' });
    expect(problem(addressPatchSchema, {})).toEqual({ path: '', message: 'must change at least one field' });
  });
});

describe('countries', () => {
  it('come from the ISO 3166-1 package, with English and Dutch names', () => {
    const countries = listCountries('nl');
    expect(countries.length).toBeGreaterThanOrEqual(249);
    expect(new Set(countries.map((c) => c.short_name)).size).toBe(countries.length);
    expect(countries.find((c) => c.short_name === 'BE')).toMatchObject({ iso_alpha3: 'BEL', iso_numeric: '056', id: 56, name: 'België', names: { en: 'Belgium', nl: 'België' } });
  });
});
