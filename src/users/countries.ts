import countries from 'i18n-iso-countries';
import { continents, countries as countryFacts } from 'countries-list';
import isEuropean from 'is-european';
import { z } from 'zod';

export const COUNTRY_LANGUAGES = ['en', 'nl'] as const;
export type CountryLanguage = (typeof COUNTRY_LANGUAGES)[number];

/**
 * One country of `global/countries`, in XWMS's documented shape plus Keyledger's extras
 * (`iso_numeric`, `names`, `timezones`). Every value comes from maintained packages: the ISO
 * 3166-1 codes and English/Dutch names from `i18n-iso-countries`, calling code, capital,
 * continent and currency from `countries-list`, EU membership from `is-european`, and time
 * zones from the ICU data that ships with Node (CLDR). Nothing is typed in by hand here.
 */
export const countrySchema = z.object({
  /** ISO 3166-1 numeric, as a number: stable across releases (XWMS uses its own row id) */
  id: z.number().int(),
  /** ISO 3166-1 alpha-2 */
  short_name: z.string().length(2),
  name: z.string(),
  /** international calling code with a plus, e.g. "+31"; null where none is assigned */
  phonecode: z.string().nullable(),
  is_eu_member: z.boolean(),
  capital: z.string().nullable(),
  iso_alpha3: z.string().length(3),
  /** continent, in English (XWMS: "Europe") */
  region: z.string().nullable(),
  /** the country's main IANA time zone (see `timezones` for all of them) */
  timezone: z.string().nullable(),
  /** ISO 4217 */
  currency_code: z.string().nullable(),
  // ---- Keyledger extras ----
  /** ISO 3166-1 numeric, three digits */
  iso_numeric: z.string().length(3),
  names: z.object({ en: z.string(), nl: z.string() }),
  timezones: z.array(z.string()),
});
export type Country = z.output<typeof countrySchema>;

/** The country object embedded in an address (XWMS's documented subset). */
export const addressCountrySchema = countrySchema.pick({ id: true, short_name: true, name: true, phonecode: true, is_eu_member: true });
export type AddressCountry = z.output<typeof addressCountrySchema>;

/** Node's ICU knows each region's zones; `timeZones` was renamed `getTimeZones()` in newer engines. */
function zonesOf(alpha2: string): string[] {
  const locale = new Intl.Locale(`und-${alpha2}`) as Intl.Locale & { getTimeZones?: () => string[]; timeZones?: string[] };
  return locale.getTimeZones?.() ?? locale.timeZones ?? [];
}

/** One zone to name: the only one, else the zone named after the capital, else the first (alphabetical). */
function mainZone(zones: readonly string[], capital: string | null): string | null {
  if (zones.length <= 1) return zones[0] ?? null;
  const city = capital?.replace(/ /g, '_').toLowerCase();
  return zones.find((zone) => zone.split('/').at(-1)!.toLowerCase() === city) ?? zones[0]!;
}

let all: readonly Omit<Country, 'name'>[] | undefined;

function load(): readonly Omit<Country, 'name'>[] {
  all ??= Object.entries(countries.getAlpha2Codes()).map(([alpha2, alpha3]) => {
    const numeric = countries.alpha2ToNumeric(alpha2)!;
    const facts = (countryFacts as Record<string, (typeof countryFacts)[keyof typeof countryFacts] | undefined>)[alpha2];
    const phone = facts?.phone[0];
    const capital = facts?.capital ? facts.capital : null;
    const timezones = zonesOf(alpha2);
    return {
      id: Number(numeric),
      short_name: alpha2,
      phonecode: phone === undefined ? null : `+${phone}`,
      is_eu_member: isEuropean.euMember(alpha2),
      capital,
      iso_alpha3: alpha3,
      region: facts ? continents[facts.continent] : null,
      timezone: mainZone(timezones, capital),
      currency_code: facts?.currency[0] ?? null,
      iso_numeric: numeric,
      names: {
        en: countries.getName(alpha2, 'en') ?? alpha2,
        // Dutch lists the official name first and the common one ("Nederland", "Duitsland") as its alias.
        nl: countries.getName(alpha2, 'nl', { select: 'alias' }) ?? countries.getName(alpha2, 'en') ?? alpha2,
      },
      timezones,
    };
  });
  return all;
}

/** Every country, named in `language`, sorted by that name. */
export function listCountries(language: CountryLanguage = 'en'): Country[] {
  const collator = new Intl.Collator(language);
  return load()
    .map((c) => ({ ...c, name: c.names[language] }))
    .sort((a, b) => collator.compare(a.name, b.name));
}

/** ISO 3166-1 alpha-2 or alpha-3, any letter case → alpha-2; undefined when it is neither. */
export function toAlpha2(code: string): string | undefined {
  const upper = code.trim().toUpperCase();
  if (/^[A-Z]{2}$/.test(upper)) return countries.isValid(upper) ? upper : undefined;
  if (/^[A-Z]{3}$/.test(upper)) return countries.alpha3ToAlpha2(upper) ?? undefined;
  return undefined;
}

export const isCountryCode = (code: string): boolean => /^[A-Z]{2}$/.test(code) && countries.isValid(code);

export function findCountry(alpha2: string, language: CountryLanguage = 'en'): Country | undefined {
  const found = load().find((c) => c.short_name === alpha2);
  return found && { ...found, name: found.names[language] };
}

export const countryName = (alpha2: string, language: CountryLanguage = 'en'): string | null => findCountry(alpha2, language)?.name ?? null;

/** An address's `country` object: `{id, short_name, name, phonecode, is_eu_member}`. */
export function addressCountry(alpha2: string, language: CountryLanguage = 'en'): AddressCountry {
  const country = findCountry(alpha2, language);
  if (!country) return { id: 0, short_name: alpha2, name: alpha2, phonecode: null, is_eu_member: false };
  return { id: country.id, short_name: country.short_name, name: country.name, phonecode: country.phonecode, is_eu_member: country.is_eu_member };
}
