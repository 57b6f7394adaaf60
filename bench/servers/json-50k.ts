/** The reply of the json-compressed scenario: ~50 kB of JSON rows, built once, the same for every system. */
export const rows = Array.from({ length: 420 }, (_, i) => ({
  id: i,
  name: `user ${i}`,
  email: `user${i}@example.com`,
  active: i % 3 === 0,
  score: (i * 37) % 101,
  tags: ['alpha', 'beta', 'gamma'].slice(0, (i % 3) + 1),
}));
export const reply = { rows };
