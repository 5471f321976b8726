import countries from 'i18n-iso-countries';

export type CountryLanguage = 'en' | 'nl';

export interface Country {
  /** ISO 3166-1 numeric, as a number (also the stable `id`) */
  readonly id: number;
  /** ISO 3166-1 alpha-2 */
  readonly short_name: string;
  readonly iso_alpha3: string;
  /** ISO 3166-1 numeric, three digits */
  readonly iso_numeric: string;
  readonly name: string;
  readonly names: { readonly en: string; readonly nl: string };
}

/*
 * Every ISO 3166-1 country from i18n-iso-countries (maintained upstream; nothing typed here).
 * English lists the common name first; Dutch lists the official name first and the common one
 * ("Nederland", "Duitsland") as its alias.
 */
let all: readonly Omit<Country, 'name'>[] | undefined;

function load(): readonly Omit<Country, 'name'>[] {
  all ??= Object.entries(countries.getAlpha2Codes()).map(([alpha2, alpha3]) => {
    const numeric = countries.alpha2ToNumeric(alpha2)!;
    return {
      id: Number(numeric),
      short_name: alpha2,
      iso_alpha3: alpha3,
      iso_numeric: numeric,
      names: {
        en: countries.getName(alpha2, 'en') ?? alpha2,
        nl: countries.getName(alpha2, 'nl', { select: 'alias' }) ?? countries.getName(alpha2, 'en') ?? alpha2,
      },
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

export const isCountryCode = (code: string): boolean => countries.isValid(code) && /^[A-Z]{2}$/.test(code);

export const countryName = (alpha2: string, language: CountryLanguage = 'en'): string | null =>
  load().find((c) => c.short_name === alpha2)?.names[language] ?? null;
