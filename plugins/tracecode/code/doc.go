// Package code parses and checks drug and consumable trace codes (追溯码)
// and their packaging hierarchy.
//
// A drug trace code of the 码上放心 family is 20 digits and starts with 8:
// the first 7 digits identify the product and package specification
// (药品标识码), the next 9 are a serial number and the last 4 are a check
// part that only the platform can verify (its algorithm is not public), so
// this package checks the format only. Consumable and imported-drug codes
// (GS1 element strings, medical-device UDI) are accepted according to a
// [Policy] chosen per site.
//
// Packaging levels are numbered two ways by the platforms: the display
// level (1 = the largest package) and the pack level (1 = the smallest).
// [Ratio] holds a package ratio such as "1:5:10" and answers how many
// smallest units a package at a given level holds, so that expanding a case
// to its smallest codes can be checked ([CheckExpansion]).
package code
