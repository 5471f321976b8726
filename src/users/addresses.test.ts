import { describe, expect, it } from 'vitest';
import { addressPatchSchema, newAddressSchema } from './addresses.ts';
import { listCountries } from './countries.ts';

const valid = { firstname: 'Grace', lastname: 'Hopper', street: 'Damrak', house_number: '1', postal_code: '1012 LG', city: 'Amsterdam', country: 'nl' };
const problem = (schema: typeof newAddressSchema | typeof addressPatchSchema, input: unknown) => {
  const result = schema.safeParse(input);
  return result.success ? undefined : { path: result.error.issues[0]!.path.join('.'), message: result.error.issues[0]!.message };
};

describe('address validation', () => {
  it('normalises a valid address: trimmed text, upper-case country, blank optional fields cleared', () => {
    const parsed = newAddressSchema.parse({ ...valid, firstname: '  Grace ', name: '', phone: null, country: 'nld' });
    expect(parsed).toEqual({ ...valid, country: 'NL', name: null, phone: null });
  });

  it('names the field and says what is wrong', () => {
    expect(problem(newAddressSchema, { ...valid, city: undefined })).toEqual({ path: 'city', message: 'is required' });
    expect(problem(newAddressSchema, { ...valid, country: 'Nederland' })).toEqual({ path: 'country', message: 'must be an ISO 3166-1 alpha-2 or alpha-3 code such as NL or NLD' });
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
    // calling code, EU membership, capital, continent, currency and zones from maintained data, not a table here
    expect(countries.find((c) => c.short_name === 'GR')).toMatchObject({ phonecode: '+30', is_eu_member: true, capital: 'Athens', region: 'Europe', currency_code: 'EUR', timezone: 'Europe/Athens' });
    expect(countries.find((c) => c.short_name === 'NO')).toMatchObject({ is_eu_member: false, phonecode: '+47' });
    expect(countries.find((c) => c.short_name === 'RU')?.timezone).toBe('Europe/Moscow');
    for (const c of countries) expect(c.phonecode === null || /^\+\d/.test(c.phonecode), c.short_name).toBe(true);
  });
});
