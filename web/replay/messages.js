// The replay page's texts in the three languages of the UI (issue 8), and the rule that picks one.
// Kept apart from the app's catalogue (web/app/src/i18n/) on purpose: this page is served as plain files with no
// build step, so it cannot import the app's TypeScript. The rule is the app's own (web/app/src/i18n/catalogue.ts):
// the choice made with a switch (the same localStorage key, so a language chosen in the app carries over here and
// back), else the first of the browser's languages spoken here by primary subtag, else English.

export const LANGUAGES = ['en', 'pt-BR', 'es'];
export const LANGUAGE_NAMES = { en: 'English', 'pt-BR': 'Português (Brasil)', es: 'Español' };
/** The app's key (web/app/src/i18n/index.ts): one choice for the whole product, in this browser only. */
export const STORAGE_KEY = 'webasset.language';

const en = {
  heading: 'Recording replay',
  pageTitle: 'Replay · WebAsset Controller',
  pageTitleOf: 'Replay {date} · {asset} · WebAsset Controller',
  language: 'Language',
  play: 'Play',
  pause: 'Pause',
  speed: 'Speed',
  pageShown: 'Page shown at this moment',
  screen: 'Recorded screen',
  events: 'Events',
  timeline: 'Timeline',
  loading: 'Loading…',
  playing: 'Playing {speed}×',
  paused: 'Paused',
  ended: 'End of recording',
  notFound: 'This recording does not exist, or you may not replay it.',
  notAddress: 'This is not a recording address.',
  notLoaded: 'The recording could not be loaded.',
  framesFailed: 'The frames could not be read.',
  frameFailed: 'A frame could not be shown.',
  httpError: 'Error {status}',
  'state.starting': 'Session starting',
  'state.logging_in': 'Session signing in to the portal',
  'state.active': 'Session active',
  'state.ended': 'Session ended',
  'state.other': 'Session {state}',
  withReason: '{text} ({reason})',
  'reason.user': 'ended by the user',
  'reason.idle_timeout': 'idle too long',
  'reason.max_duration': 'maximum duration reached',
  'reason.admin': 'ended by an administrator',
  'reason.login_failed': 'portal login failed',
  'reason.browser_crashed': 'the browser crashed',
  'reason.shutdown': 'server shutting down',
  'reason.node_restart': 'node restarted',
  'reason.recording_failed': 'recording failed',
  'button.right': 'right button',
  'button.middle': 'middle button',
  navigated: 'Opened {url}',
  navigatedTitled: 'Opened “{title}” {url}',
  'tab.opened': 'Tab opened: {url}',
  'tab.closed': 'Tab closed: {url}',
  'tab.switched': 'Tab switched: {url}',
  'tab.other': 'Tab {action}: {url}',
  click: 'Click on {target}',
  clickButton: 'Click on {target} ({button})',
  thePage: 'the page',
  keysPassword: 'Typed {count} characters into a password field ({target})',
  keysText: 'Typed “{text}” into {target}',
  keysMasked: 'Typed {count} characters into {target} (masked)',
  copied: 'Copied {count} characters',
  pasted: 'Pasted {count} characters',
  download: 'Downloaded {name} ({size} bytes)',
  upload: 'Uploaded {names}',
  blocked: 'Blocked {what}: {reason}',
  blockedUrl: 'Blocked {what} {url}: {reason}',
  tool: 'Agent tool {tool}: {summary}',
  'viewer.attached.control': 'Viewer {user} joined (control)',
  'viewer.attached.watch': 'Viewer {user} joined (watch)',
  'viewer.detached.control': 'Viewer {user} left (control)',
  'viewer.detached.watch': 'Viewer {user} left (watch)',
  'viewer.other': 'Viewer {user} {action} ({mode})',
};

const ptBR = {
  heading: 'Reprodução da gravação',
  pageTitle: 'Reprodução · WebAsset Controller',
  pageTitleOf: 'Reprodução {date} · {asset} · WebAsset Controller',
  language: 'Idioma',
  play: 'Reproduzir',
  pause: 'Pausar',
  speed: 'Velocidade',
  pageShown: 'Página exibida neste momento',
  screen: 'Tela gravada',
  events: 'Eventos',
  timeline: 'Linha do tempo',
  loading: 'Carregando…',
  playing: 'Reproduzindo a {speed}×',
  paused: 'Pausado',
  ended: 'Fim da gravação',
  notFound: 'Esta gravação não existe ou você não tem permissão para reproduzi-la.',
  notAddress: 'Este não é o endereço de uma gravação.',
  notLoaded: 'Não foi possível carregar a gravação.',
  framesFailed: 'Não foi possível ler os quadros.',
  frameFailed: 'Não foi possível exibir um quadro.',
  httpError: 'Erro {status}',
  'state.starting': 'Sessão iniciando',
  'state.logging_in': 'Sessão entrando no portal',
  'state.active': 'Sessão ativa',
  'state.ended': 'Sessão encerrada',
  'state.other': 'Sessão: {state}',
  withReason: '{text} ({reason})',
  'reason.user': 'encerrada pelo usuário',
  'reason.idle_timeout': 'inativa por tempo demais',
  'reason.max_duration': 'duração máxima atingida',
  'reason.admin': 'encerrada por um administrador',
  'reason.login_failed': 'falha no login do portal',
  'reason.browser_crashed': 'o navegador travou',
  'reason.shutdown': 'servidor sendo desligado',
  'reason.node_restart': 'nó reiniciado',
  'reason.recording_failed': 'falha na gravação',
  'button.right': 'botão direito',
  'button.middle': 'botão do meio',
  navigated: 'Abriu {url}',
  navigatedTitled: 'Abriu “{title}” {url}',
  'tab.opened': 'Aba aberta: {url}',
  'tab.closed': 'Aba fechada: {url}',
  'tab.switched': 'Troca de aba: {url}',
  'tab.other': 'Aba ({action}): {url}',
  click: 'Clique em {target}',
  clickButton: 'Clique em {target} ({button})',
  thePage: 'a página',
  keysPassword: 'Digitou {count} caracteres em um campo de senha ({target})',
  keysText: 'Digitou “{text}” em {target}',
  keysMasked: 'Digitou {count} caracteres em {target} (ocultos)',
  copied: 'Copiou {count} caracteres',
  pasted: 'Colou {count} caracteres',
  download: 'Baixou {name} ({size} bytes)',
  upload: 'Enviou {names}',
  blocked: 'Bloqueado ({what}): {reason}',
  blockedUrl: 'Bloqueado ({what}) {url}: {reason}',
  tool: 'Ferramenta do agente {tool}: {summary}',
  'viewer.attached.control': 'Observador {user} entrou (controle)',
  'viewer.attached.watch': 'Observador {user} entrou (só assistir)',
  'viewer.detached.control': 'Observador {user} saiu (controle)',
  'viewer.detached.watch': 'Observador {user} saiu (só assistir)',
  'viewer.other': 'Observador {user}: {action} ({mode})',
};

const es = {
  heading: 'Reproducción de la grabación',
  pageTitle: 'Reproducción · WebAsset Controller',
  pageTitleOf: 'Reproducción {date} · {asset} · WebAsset Controller',
  language: 'Idioma',
  play: 'Reproducir',
  pause: 'Pausar',
  speed: 'Velocidad',
  pageShown: 'Página mostrada en este momento',
  screen: 'Pantalla grabada',
  events: 'Eventos',
  timeline: 'Línea de tiempo',
  loading: 'Cargando…',
  playing: 'Reproduciendo a {speed}×',
  paused: 'En pausa',
  ended: 'Fin de la grabación',
  notFound: 'Esta grabación no existe o no tienes permiso para reproducirla.',
  notAddress: 'Esta no es la dirección de una grabación.',
  notLoaded: 'No se pudo cargar la grabación.',
  framesFailed: 'No se pudieron leer los fotogramas.',
  frameFailed: 'No se pudo mostrar un fotograma.',
  httpError: 'Error {status}',
  'state.starting': 'Sesión iniciándose',
  'state.logging_in': 'Sesión iniciando sesión en el portal',
  'state.active': 'Sesión activa',
  'state.ended': 'Sesión terminada',
  'state.other': 'Sesión: {state}',
  withReason: '{text} ({reason})',
  'reason.user': 'terminada por el usuario',
  'reason.idle_timeout': 'inactiva demasiado tiempo',
  'reason.max_duration': 'duración máxima alcanzada',
  'reason.admin': 'terminada por un administrador',
  'reason.login_failed': 'falló el inicio de sesión en el portal',
  'reason.browser_crashed': 'el navegador falló',
  'reason.shutdown': 'servidor apagándose',
  'reason.node_restart': 'nodo reiniciado',
  'reason.recording_failed': 'falló la grabación',
  'button.right': 'botón derecho',
  'button.middle': 'botón central',
  navigated: 'Abrió {url}',
  navigatedTitled: 'Abrió «{title}» {url}',
  'tab.opened': 'Pestaña abierta: {url}',
  'tab.closed': 'Pestaña cerrada: {url}',
  'tab.switched': 'Cambio de pestaña: {url}',
  'tab.other': 'Pestaña ({action}): {url}',
  click: 'Clic en {target}',
  clickButton: 'Clic en {target} ({button})',
  thePage: 'la página',
  keysPassword: 'Escribió {count} caracteres en un campo de contraseña ({target})',
  keysText: 'Escribió «{text}» en {target}',
  keysMasked: 'Escribió {count} caracteres en {target} (ocultos)',
  copied: 'Copió {count} caracteres',
  pasted: 'Pegó {count} caracteres',
  download: 'Descargó {name} ({size} bytes)',
  upload: 'Subió {names}',
  blocked: 'Bloqueado ({what}): {reason}',
  blockedUrl: 'Bloqueado ({what}) {url}: {reason}',
  tool: 'Herramienta del agente {tool}: {summary}',
  'viewer.attached.control': 'El observador {user} se unió (control)',
  'viewer.attached.watch': 'El observador {user} se unió (solo mirar)',
  'viewer.detached.control': 'El observador {user} salió (control)',
  'viewer.detached.watch': 'El observador {user} salió (solo mirar)',
  'viewer.other': 'Observador {user}: {action} ({mode})',
};

export const CATALOGUES = { en, 'pt-BR': ptBR, es };

const primary = (tag) => String(tag).toLowerCase().split('-')[0] ?? '';

/** The first of the browser's languages spoken here, by primary subtag; English otherwise (the app's rule). */
export function pickLanguage(preferred) {
  for (const tag of preferred) {
    const found = LANGUAGES.find((lang) => primary(lang) === primary(tag));
    if (found) return found;
  }
  return 'en';
}

/** The locale dates and numbers are written in: the browser's own tag when of the chosen language (the app's rule). */
export function localeFor(language, preferred) {
  const own = preferred.find((tag) => primary(tag) === primary(language));
  if (!own) return language;
  try {
    return Intl.getCanonicalLocales(own)[0] ?? language;
  } catch {
    return language;
  }
}

/** The message `key` in `language` with its `{name}` parameters filled in; numbers written in `locale`. */
export function message(language, locale, key, params = {}) {
  const template = CATALOGUES[language][key] ?? CATALOGUES.en[key] ?? key;
  return template.replace(/\{(\w+)\}/g, (whole, name) => {
    const value = params[name];
    if (value === undefined) return whole;
    return typeof value === 'number' ? new Intl.NumberFormat(locale).format(value) : String(value);
  });
}
