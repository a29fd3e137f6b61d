/* The shared libraries are linked from the static modules; this translation
 * unit only gives each library target a source of its own. */
typedef int strata_exports_translation_unit;
