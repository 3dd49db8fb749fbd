"""The phrase lexicon of the synthetic playlist world.

Plain data: facets (genres with subgenres, moods, activities, eras), the many
ways people write each of them, title templates, fillers, emoji and the word
pools that names are made from. Phrasings are `|`-separated; the first one of
each list is the canonical name (what an editor would write). `Lexicon.load()`
parses everything into tuples once.

Genre rows: (key, share of artists, energy, valence, first decade, phrasings,
subgenres); subgenre rows: (phrasings, peak decade[, energy, valence]), the
subgenre key being its canonical phrasing. Energy and valence (0..1) place
genres, moods and activities on one plane; the world derives which moods and
activities each subgenre leans to from distances on it.
"""

from __future__ import annotations

import dataclasses
import functools

DECADES = (1940, 1950, 1960, 1970, 1980, 1990, 2000, 2010, 2020)

# pylint: disable=line-too-long
GENRES = (
    ("rock", 3.0, .70, .50, 1950,
     "rock|rock music|guitar rock|rock n roll|rock and roll|rock & roll|rawk|rockin tunes|guitar music|big riffs", (
         ("classic rock|dad rock|arena rock|stadium rock|rock classics|old school rock|album rock", 1970),
         ("hard rock|heavy rock|hair metal|glam metal|big riff rock|sleaze rock", 1980, .85, .5),
         ("alternative rock|alt rock|alternative|alt-rock|college rock|modern rock", 1990),
         ("grunge|seattle sound|post grunge|flannel rock|sludgy grunge", 1990, .7, .3),
         ("garage rock|garage|garage revival|fuzz rock|lo fi garage|scuzzy rock", 2000),
         ("psychedelic rock|psych rock|psych|acid rock|neo psychedelia|space rock|fuzz psych", 1960, .55, .55),
         ("southern rock|swamp rock|heartland rock|roots rock|boogie rock", 1970),
         ("glam rock|glam|glitter rock|art rock|platform boot rock", 1970),
         ("surf rock|surf|surf guitar|reverb drenched surf|beach rock", 1960, .7, .8),
         ("prog rock|progressive rock|prog|symphonic rock|concept album rock", 1970, .55, .45))),
    ("metal", 1.4, .95, .25, 1970,
     "metal|heavy music|metal music|headbanging music|metalhead music|the heavy stuff|riffage", (
         ("heavy metal|trad metal|nwobhm|classic metal|old school metal|true metal", 1980),
         ("thrash metal|thrash|speed metal|crossover thrash|bay area thrash", 1980),
         ("death metal|brutal death metal|melodeath|melodic death metal|old school death metal|osdm", 1990),
         ("black metal|atmospheric black metal|blackgaze|raw black metal|second wave black metal", 1990, .85, .1),
         ("doom metal|doom|stoner metal|sludge metal|stoner doom|stoner rock", 1990, .6, .2),
         ("metalcore|deathcore|melodic metalcore|post hardcore|breakdowns", 2000),
         ("nu metal|nu-metal|rap metal|alt metal|alternative metal|nu metal revival", 2000),
         ("power metal|symphonic metal|epic metal|speed power metal|dragon metal", 1990, .9, .6),
         ("progressive metal|prog metal|djent|tech metal|math metal|polyrhythmic metal", 2010))),
    ("punk", 1.0, .90, .55, 1970,
     "punk|punk rock|punx|punk music|three chord punk|diy punk|snotty punk", (
         ("first wave punk|77 punk|early punk|proto punk|london punk|bowery punk", 1970),
         ("hardcore punk|hardcore|hxc|straight edge|youth crew|d beat", 1980, .98, .3),
         ("pop punk|pop-punk|mall punk|easycore|warped tour punk|skate punk", 2000, .9, .75),
         ("post punk|post-punk|coldwave|darkwave|goth rock|deathrock", 1980, .6, .3),
         ("emo|emo rock|midwest emo|screamo|emo revival|twinkly emo", 2000, .7, .25),
         ("ska punk|ska core|third wave ska|skacore|horn punk", 1990, .9, .85))),
    ("pop", 3.5, .65, .75, 1950,
     "pop|pop music|pop hits|top 40|mainstream pop|radio pop|chart pop|pop bops|bops|chart toppers", (
         ("dance pop|dance-pop|club pop|pop dance|pop bangers|dancefloor pop", 2010, .8, .8),
         ("teen pop|boy band|girl group|bubblegum pop|boybands|teen idol pop", 2000),
         ("synth pop|synthpop|synth-pop|new wave|electro pop|new romantic", 1980),
         ("electropop|future pop|glitter pop|pop electronica|sparkly pop", 2010),
         ("art pop|chamber pop|baroque pop|avant pop|experimental pop", 2010, .45, .55),
         ("hyperpop|digicore|glitchcore|bubblegum bass|pc music|hyper pop", 2020, .9, .7),
         ("acoustic pop|piano pop|singer songwriter pop|soft pop|adult pop|coffeehouse pop", 2010, .35, .65),
         ("power pop|jangle pop|guitar pop|sunshine pop|brill building pop", 1960))),
    ("indie", 2.0, .50, .50, 1980,
     "indie|indie music|indie stuff|indie darlings|blog rock|indie kid music|indie gems", (
         ("indie rock|indie-rock|indie guitar|landfill indie|post britpop|blog era indie", 2000),
         ("indie pop|indiepop|twee pop|twee|jangly indie|sad indie pop", 2010),
         ("indie folk|folk pop|stomp clap|nu folk|woodsy indie|cabin folk", 2010, .35, .55),
         ("bedroom pop|bedroompop|diy pop|lo fi pop|soft indie|cassette pop", 2020, .3, .55),
         ("shoegaze|nu gaze|wall of sound|fuzzy shoegaze|shoegazing|noise pop", 1990, .5, .4),
         ("dream pop|dreampop|ethereal wave|hazy pop|reverb pop|slowcore", 1990, .3, .45),
         ("britpop|brit pop|madchester|baggy|cool britannia|uk indie", 1990, .7, .7),
         ("math rock|post rock|instrumental rock|crescendocore|twinkly math", 2010, .55, .45))),
    ("hip hop", 3.5, .72, .55, 1980,
     "hip hop|hip-hop|hiphop|rap|rap music|bars|rhymes|hip hop music|rap bangers|spitting bars", (
         ("old school hip hop|old school rap|golden age hip hop|block party rap|breakbeat rap|electro rap", 1980),
         ("boom bap|boom-bap|east coast hip hop|underground hip hop|dusty beats|backpack rap|lyrical rap", 1990),
         ("gangsta rap|g funk|west coast rap|westcoast|hardcore rap|street rap", 1990),
         ("trap|trap music|atlanta trap|808s|southern trap|trap bangers|plugg", 2010, .8, .45),
         ("conscious hip hop|conscious rap|political rap|jazz rap|alternative hip hop|abstract hip hop", 2000, .55, .55),
         ("drill|uk drill|ny drill|chicago drill|drill music|brooklyn drill", 2020, .8, .25),
         ("cloud rap|emo rap|soundcloud rap|sad rap|lo fi rap|rage rap", 2010, .6, .3),
         ("southern hip hop|dirty south|crunk|chopped and screwed|houston rap|bounce", 2000),
         ("grime|uk rap|uk hip hop|road rap|afroswing|london grime", 2010))),
    ("r&b", 2.0, .45, .62, 1960,
     "r&b|rnb|r and b|r'n'b|rhythm and blues|r&b music|randb", (
         ("contemporary r&b|modern r&b|urban contemporary|pop r&b|smooth r&b", 2000),
         ("neo soul|neo-soul|nu soul|organic soul|soulquarian|jazzy r&b", 2000, .4, .65),
         ("alternative r&b|alt r&b|pbr&b|dark r&b|moody r&b|experimental r&b", 2010, .4, .4),
         ("new jack swing|new jack|swingbeat|hip hop soul|street soul", 1990, .7, .75),
         ("quiet storm|slow jams|bedroom r&b|love man soul|smooth grooves", 1980, .3, .7))),
    ("soul", 1.2, .50, .68, 1960,
     "soul|soul music|soulful music|classic soul|deep soul|vintage soul|soul jams", (
         ("motown|motown sound|hitsville|detroit soul|girl groups|sweet soul", 1960, .65, .85),
         ("northern soul|rare soul|wigan casino|floor fillers|soul stompers", 1970, .75, .8),
         ("southern soul|memphis soul|stax|deep southern soul|muscle shoals|country soul", 1960),
         ("philly soul|philadelphia soul|sweet soul music|lush soul|orchestral soul", 1970),
         ("retro soul|modern soul|neo retro soul|throwback soul|revival soul|vintage revival", 2010))),
    ("funk", 1.0, .78, .80, 1970,
     "funk|funky music|funk music|the funk|slap bass|funky stuff|funkadelic grooves", (
         ("p-funk|parliament funk|cosmic funk|mothership funk|space funk", 1970),
         ("funk rock|funk metal|funky rock|slap rock|punk funk", 1980),
         ("boogie|post disco|electro boogie|modern soul boogie|synth funk", 1980),
         ("nu funk|modern funk|future funk|funktronica|indie funk", 2010),
         ("jazz funk|soul jazz|rare groove|funky jazz|crate digging grooves", 1970, .6, .75))),
    ("disco", 1.0, .80, .88, 1970,
     "disco|disco music|disco hits|disco fever|mirrorball music|glitterball|boogie wonderland", (
         ("classic disco|studio disco|philly disco|disco divas|disco classics", 1970),
         ("italo disco|italo|euro disco|hi nrg|hi-nrg|space disco", 1980),
         ("nu disco|nu-disco|disco edits|indie dance|disco house|french disco", 2010),
         ("eurodance|euro dance|europop|bubblegum dance|hands up dance|eurobeat", 1990, .9, .85))),
    ("house", 2.0, .80, .70, 1980,
     "house|house music|house tunes|four to the floor|club house|housey tunes|house grooves", (
         ("chicago house|jackin house|classic house|warehouse house|acid house|old school house", 1980),
         ("deep house|deep-house|melodic house|organic house|lounge house|sunset house", 2010, .6, .6),
         ("tech house|tech-house|minimal house|groovy tech house|peak time house", 2010),
         ("progressive house|prog house|big room progressive|anthemic house|festival house", 2000),
         ("uk garage|ukg|2 step|two step|speed garage|bassline house", 2000),
         ("afro house|afro tech|tribal house|amapiano house|organic afro house", 2020),
         ("french house|filter house|french touch|disco filter house|robot house", 2000, .8, .8))),
    ("techno", 1.2, .85, .35, 1980,
     "techno|techno music|warehouse techno|underground techno|bunker techno|doof doof|four four techno", (
         ("detroit techno|detroit|classic techno|motor city techno|electro techno", 1990),
         ("minimal techno|minimal|microhouse|clicks and cuts|minimal tech", 2000, .7, .4),
         ("industrial techno|hard industrial|ebm|berlin techno|dark techno|berghain techno", 2010, .9, .2),
         ("melodic techno|progressive techno|emotional techno|cinematic techno|afterlife techno", 2020, .7, .45),
         ("hard techno|hardgroove|schranz|rave techno|fast techno|gabber", 2020, .98, .3),
         ("acid techno|acid|303 acid|squelchy acid|acidcore", 1990))),
    ("edm", 2.0, .90, .75, 2000,
     "edm|electronic dance music|dance music|festival edm|rave music|club music|drops|dance anthems", (
         ("big room|big room house|festival anthems|mainstage edm|drop heavy edm|electro house", 2010),
         ("dubstep|brostep|riddim|bass music|filthy dubstep|wobble", 2010, .95, .4),
         ("future bass|melodic bass|kawaii future bass|chill trap|wave music|color bass", 2010, .7, .75),
         ("trance|uplifting trance|psytrance|psy trance|progressive trance|goa trance|vocal trance", 2000, .85, .7),
         ("hardstyle|hard dance|rawstyle|euphoric hardstyle|hardcore techno|happy hardcore", 2010, 1.0, .6),
         ("electro|fidget house|complextro|blog house|electroclash|bloghouse", 2000))),
    ("drum and bass", 0.9, .90, .50, 1990,
     "drum and bass|drum n bass|dnb|d&b|drum & bass|jungle music|rollers|bass and breaks", (
         ("liquid dnb|liquid drum and bass|liquid funk|soulful dnb|atmospheric dnb", 2000, .75, .65),
         ("jungle|oldskool jungle|ragga jungle|amen breaks|junglist", 1990),
         ("neurofunk|neuro|techstep|dark dnb|neuro dnb", 2000, .95, .25),
         ("jump up|jump-up|wobbly dnb|rave dnb|clownstep", 2010),
         ("breakbeat|breaks|big beat|nu skool breaks|breakbeat hardcore", 1990))),
    ("ambient", 0.8, .15, .50, 1970,
     "ambient|ambient music|ambience|soundscapes|atmospheric music|drones|sonic textures", (
         ("ambient electronica|ambient techno|chill ambient|ambient house|isolationist ambient", 1990),
         ("drone|drone music|dark ambient|drone ambient|noise ambient|deep drones", 2000, .1, .2),
         ("new age|healing music|spa music|relaxation music|nature sounds|zen music", 1980, .05, .7),
         ("space ambient|space music|cosmic ambient|kosmische|berlin school|cosmic synth", 1980),
         ("ambient piano|piano ambient|minimal piano|sparse piano|felt piano", 2010, .1, .5))),
    ("downtempo", 1.0, .35, .55, 1990,
     "downtempo|chill out|chillout|chill electronic|lounge|electronica|chilled beats|chill beats", (
         ("trip hop|trip-hop|bristol sound|dark downtempo|trip hop beats", 1990, .35, .35),
         ("chillout lounge|cafe del mar|ibiza chillout|buddha bar|lounge music|balearic", 2000),
         ("lofi hip hop|lofi|lo-fi|lo fi beats|lofi beats|chillhop|jazzhop|study beats|beats to relax to", 2020, .2, .55),
         ("chillwave|glo-fi|glo fi|hypnagogic pop|summer chillwave", 2010, .35, .65),
         ("idm|intelligent dance music|braindance|glitch|glitch hop|warp style electronica", 1990, .5, .4),
         ("folktronica|indietronica|laptop folk|organic electronica|electro acoustic", 2000))),
    ("synthwave", 0.8, .60, .45, 2010,
     "synthwave|retrowave|retro synth|synth revival|neon synths|retro electro|synth music", (
         ("outrun|outrun synthwave|driving synthwave|miami synth|sunset synth", 2010, .65, .6),
         ("darksynth|dark synthwave|cyberpunk|horror synth|doom synth|neon noir", 2010, .8, .2),
         ("vaporwave|vapor|mallsoft|slushwave|aesthetic|hardvapour", 2010, .35, .5),
         ("dreamwave|chillsynth|sleepwave|lofi synthwave|soft synth", 2010, .35, .55))),
    ("jazz", 1.4, .40, .60, 1940,
     "jazz|jazz music|jazzy|jazz standards|jazz club|smoky jazz|jazz cafe|all that jazz", (
         ("bebop|bop|hard bop|post bop|be bop|jazz combos", 1950, .6, .6),
         ("cool jazz|west coast jazz|modal jazz|third stream|chamber jazz", 1950, .3, .55),
         ("swing|big band|swing jazz|jump blues|lindy hop|dixieland", 1940, .7, .85),
         ("smooth jazz|contemporary jazz|quiet jazz|jazz lounge|sax ballads", 1980, .3, .7),
         ("jazz fusion|fusion|jazz rock|electric jazz|spiritual jazz|jazz funk fusion", 1970),
         ("vocal jazz|jazz vocals|crooning jazz|torch songs|jazz singers|standards", 1950, .3, .6),
         ("nu jazz|modern jazz|uk jazz|jazz revival|broken beat|future jazz", 2010))),
    ("blues", 0.8, .45, .35, 1940,
     "blues|the blues|blues music|12 bar blues|bluesy|blues guitar|blues licks", (
         ("delta blues|country blues|acoustic blues|slide guitar blues|mississippi blues|piedmont blues", 1940, .3, .3),
         ("chicago blues|electric blues|urban blues|harmonica blues|juke joint blues", 1950),
         ("blues rock|british blues|blues boom|heavy blues|boogie blues", 1970, .7, .45),
         ("modern blues|contemporary blues|desert blues|soul blues|roots blues", 2010))),
    ("country", 2.0, .55, .62, 1950,
     "country|country music|country hits|cowboy music|nashville|yeehaw|twang|boots and hats music", (
         ("classic country|old country|nashville sound|countrypolitan|real country|traditional country", 1960),
         ("outlaw country|outlaw|red dirt|texas country|honky tonk heroes", 1970),
         ("bro country|truck songs|country rap|tailgate country|dirt road anthems", 2010, .7, .75),
         ("country pop|pop country|crossover country|modern country|new country", 2000),
         ("bluegrass|newgrass|banjo music|appalachian|old time music|mountain music", 1950, .6, .7),
         ("americana|alt country|alt-country|roots music|cosmic country|heartland americana", 2010, .4, .5),
         ("honky tonk|honkytonk|western swing|barroom country|bakersfield sound", 1950))),
    ("folk", 1.0, .30, .50, 1950,
     "folk|folk music|acoustic|acoustic music|unplugged|folky|guitar and voice", (
         ("folk revival|protest songs|greenwich village folk|traditional folk|folk standards", 1960),
         ("singer songwriter|singer-songwriter|confessional songs|troubadour|laurel canyon", 1970),
         ("contemporary folk|modern folk|new folk|acoustic folk|fingerpicking", 2010),
         ("celtic|irish folk|scottish folk|celtic music|sea shanties|trad irish", 1990, .55, .7),
         ("freak folk|psych folk|new weird america|weird folk|wyrd folk", 2000))),
    ("classical", 1.0, .25, .50, 1940,
     "classical|classical music|orchestral|symphony|symphonies|the classics|orchestra music", (
         ("baroque|early music|harpsichord|baroque music|chamber music", 1960),
         ("romantic era|romantic classical|late romantic|piano concertos|symphonic poems|grand orchestral", 1960, .4, .5),
         ("minimalism|minimalist|minimal music|post minimalism|phase music|systems music", 1970),
         ("modern classical|neoclassical|neo classical|contemporary classical|post classical|piano and strings", 2010, .2, .45),
         ("opera|arias|operatic|bel canto|opera highlights|divas of opera", 1950, .45, .5),
         ("solo piano|piano|piano music|piano sonatas|nocturnes|piano pieces", 1960, .15, .5))),
    ("soundtrack", 0.9, .45, .50, 1950,
     "soundtrack|soundtracks|ost|score|movie music|film music|scores", (
         ("film score|film scores|movie scores|cinematic score|hollywood score|orchestral score", 2000),
         ("video game music|vgm|game soundtrack|game ost|chiptune|8 bit|8-bit|16 bit", 2010, .65, .6),
         ("anime|anime openings|anime ost|anime songs|anisong|anime endings", 2010, .7, .7),
         ("musical theatre|musical theater|broadway|show tunes|musicals|west end", 1950, .55, .75),
         ("epic orchestral|trailer music|epic music|battle music|heroic orchestral", 2010, .8, .5))),
    ("latin", 2.0, .78, .82, 1950,
     "latin|latin music|latino|musica latina|latin hits|latin vibes|latin party|ritmo latino", (
         ("reggaeton|perreo|dembow|latin urban|urbano|reggaetoneo", 2010, .85, .8),
         ("salsa|salsa dura|salsa romantica|timba|son cubano|mambo", 1970),
         ("bachata|bachata sensual|bachata romantica|dominican bachata", 2000, .6, .75),
         ("latin pop|pop latino|spanish pop|latin ballads|balada", 2000),
         ("cumbia|cumbia villera|chicha|cumbia sonidera|vallenato", 1960),
         ("bossa nova|bossa|mpb|samba|brazilian jazz|tropicalia", 1960, .35, .75),
         ("latin trap|trap latino|corridos tumbados|regional mexicano|musica mexicana|banda", 2020, .75, .6))),
    ("reggae", 1.0, .50, .78, 1960,
     "reggae|reggae music|jamaican music|island music|irie|one drop|yard vibes", (
         ("roots reggae|roots|conscious reggae|rasta|nyabinghi|roots rock reggae", 1970),
         ("dancehall|bashment|ragga|dancehall riddims|yard music", 2000, .8, .75),
         ("ska|rocksteady|2 tone|two tone|early reggae|bluebeat", 1960, .75, .85),
         ("dub|dub reggae|steppers|dub poetry|sound system|echo chamber dub", 1970, .35, .55),
         ("reggae fusion|reggae pop|island pop|pop reggae|cali reggae|surf reggae", 2000))),
    ("afro", 1.0, .78, .82, 1970,
     "afrobeats|afro|african music|afropop|naija|afro vibes|african hits", (
         ("afro fusion|afro beats|naija pop|nigerian pop|afro pop|lagos pop", 2020),
         ("afrobeat|fela style afrobeat|afro funk|afro jazz|lagos funk", 1970),
         ("amapiano|piano piano|log drum|yanos|sa house|gqom", 2020),
         ("highlife|palm wine|juju|soukous|rumba congolaise", 1960),
         ("afro soul|afro r&b|alte|afro chill|afro love songs", 2010, .45, .7))),
    ("asian pop", 1.4, .75, .75, 1980,
     "asian pop|east asian pop|idol music|idol groups|asian hits|asia pop", (
         ("k-pop|kpop|k pop|korean pop|hallyu|k-idols", 2010),
         ("j-pop|jpop|j pop|japanese pop|j-idol|japanese idols", 2000),
         ("city pop|japanese city pop|shibuya kei|tokyo night pop|showa pop", 1980, .6, .75),
         ("c-pop|cpop|mandopop|cantopop|chinese pop|taiwanese pop", 2010, .55, .65),
         ("j-rock|jrock|visual kei|japanese rock|anime rock|j-metal", 2000, .85, .55),
         ("k-indie|korean indie|k-r&b|k-hip hop|khh|korean r&b", 2020, .5, .55))),
    ("christian", 0.6, .50, .82, 1950,
     "christian|christian music|gospel music|faith music|church music|praise music|worship music", (
         ("gospel|black gospel|choir|gospel choir|traditional gospel|spirituals", 1960),
         ("worship|praise and worship|contemporary worship|church songs|hymns", 2010, .4, .8),
         ("christian rock|christian punk|christian metal|jesus rock|ccm rock", 2000, .8, .65),
         ("contemporary christian|ccm|christian pop|faith pop|christian hits", 2000),
         ("southern gospel|gospel quartets|country gospel|bluegrass gospel|old hymns", 1950))),
    ("holiday", 0.4, .50, .85, 1940,
     "holiday|holiday music|christmas music|xmas songs|festive music|holiday songs|christmas hits", (
         ("christmas classics|christmas standards|crooner christmas|old christmas songs|classic xmas", 1950),
         ("christmas pop|pop christmas|modern christmas|xmas pop|holiday pop", 2010),
         ("christmas carols|carols|choral christmas|hymns of christmas|advent music", 1960, .3, .75),
         ("halloween songs|halloween music|monster mash|horror tunes|spooky tunes", 2000, .6, .35),
         ("jazzy christmas|christmas jazz|swinging christmas|holiday jazz|xmas jazz", 1950, .4, .85))),
    ("easy listening", 0.7, .30, .70, 1950,
     "easy listening|oldies|golden oldies|adult contemporary|soft music|easy music|grandma music", (
         ("crooners|crooner|rat pack|vocal pop|great american songbook|lounge singers", 1950),
         ("exotica|space age pop|tiki|bachelor pad|mood music|tiki lounge", 1950),
         ("soft rock|yacht rock|west coast aor|aor|adult oriented rock|mellow gold", 1970, .4, .75),
         ("doo wop|doo-wop|vocal groups|streetcorner harmony|oldies doo wop", 1950, .5, .8))),
    ("world", 0.6, .55, .65, 1960,
     "world music|world|global|global sounds|international|world beat|worldwide sounds", (
         ("flamenco|nuevo flamenco|rumba flamenca|spanish guitar|gypsy rumba", 1970),
         ("fado|portuguese fado|saudade|lisbon songs|fado classics", 1960, .2, .2),
         ("bollywood|desi|hindi songs|filmi|bhangra|punjabi", 2000, .75, .8),
         ("arabic pop|arab pop|khaleeji|mahraganat|rai|arabic music", 2000),
         ("balkan|balkan beats|balkan brass|gypsy brass|klezmer|turbo folk", 2000, .85, .8),
         ("chanson|french chanson|chanson francaise|french pop|ye ye", 1960, .4, .6))),
    ("experimental", 0.4, .55, .35, 1970,
     "experimental|avant garde|avant-garde|leftfield|outsider music|weird music|noise music", (
         ("noise|harsh noise|noise rock|no wave|japanoise|power electronics", 1990, .9, .1),
         ("industrial|industrial rock|industrial metal|aggrotech|coldwave industrial", 1980, .85, .2),
         ("musique concrete|tape music|sound collage|plunderphonics|electroacoustic", 1960, .3, .4),
         ("free jazz|avant jazz|free improvisation|spiritual free jazz|fire music", 1970, .6, .4),
         ("deconstructed club|experimental club|club avant|post club|bass experiments", 2020, .75, .3))),
)

# Moods: key -> (energy, valence, adjective phrasings, noun phrasings, emoji, boosted genres).
MOODS = {
    "happy": (.65, .95, "happy|joyful|cheerful|upbeat|bright|smiley|giddy|jolly|gleeful|chipper|good mood",
              "good vibes|pure joy|happiness|smiles|serotonin boost|dopamine hits|happy place|sunshine on a cloudy day", "😊 😁 🙂 🌈 ☺️", "pop,disco,funk"),
    "sad": (.2, .1, "sad|sad boy|sad girl|depressing|tearful|blue|down|crying|weepy|gutted|downcast",
            "tears|crying in the club|sadness|the blues|a good cry|crying session|sad hours|sob session|feels", "😢 😭 💧 🥀", "indie,folk,blues"),
    "chill": (.25, .65, "chill|chilled|laid back|laidback|relaxed|easygoing|low key|lowkey|kicked back|slow and easy",
              "chill vibes|relaxation|downtime|a chill session|zen mode|good chill|unwinding|slow days", "😌 🌿 🛋️", "downtempo,reggae,r&b"),
    "energetic": (.92, .75, "energetic|high energy|pumped|hyped up|amped|lively|full power|adrenaline|explosive|fast paced",
                  "energy boost|adrenaline rush|pure energy|power hour|a jolt|max energy|fuel", "⚡ 🔋", "edm,drum and bass,punk"),
    "angry": (.92, .1, "angry|mad|furious|pissed|raging|heated|salty|livid|enraged|pissed off",
              "rage|anger|fury|pure rage|anger management|letting off steam|blowing off steam|screaming into the void", "😡 🤬 💢", "metal,punk"),
    "romantic": (.35, .82, "romantic|lovey dovey|in love|loving|lovesick|swoony|smitten|affectionate|amorous",
                 "love songs|romance|falling in love|love|candlelight|sweet nothings|slow dances|forever love", "❤️ 💕 🥰 🌹", "r&b,soul,latin"),
    "melancholic": (.25, .2, "melancholic|melancholy|somber|sombre|mournful|pensive|forlorn|glum|heavy hearted",
                    "melancholy|sorrow|grey skies|rainy windows|sad thoughts|quiet sorrow|sorrowful evenings", "🌧️ 🖤", "indie,classical"),
    "nostalgic": (.45, .6, "nostalgic|throwback|reminiscent|sentimental|old times|retro feeling|memory lane",
                  "nostalgia|memories|memory lane|good old days|childhood memories|the old days|yesterday|back in the day", "📼 📻 🕰️", "easy listening,soul"),
    "dreamy": (.25, .6, "dreamy|ethereal|hazy|floaty|airy|otherworldly|celestial|spacey|starry|cloudlike",
               "daydreams|daydreaming|dreamland|clouds|cotton candy skies|stardust|head in the clouds", "☁️ 🌙 ✨ 💭", "indie,ambient"),
    "dark": (.6, .12, "dark|brooding|sinister|ominous|gothic|shadowy|bleak|grim|menacing|noir",
             "darkness|the void|shadows|midnight thoughts|the abyss|dark side|night terrors", "🖤 🌑 🦇", "techno,metal"),
    "hopeful": (.55, .8, "hopeful|optimistic|inspiring|inspirational|encouraging|positive|reassuring|brighter",
                "hope|new beginnings|a fresh start|better days|brighter days|silver linings|tomorrow", "🌅 🌱 🙏", "christian,folk"),
    "confident": (.75, .75, "confident|bossy|cocky|swaggy|fearless|unstoppable|main character|untouchable",
                  "main character energy|swagger|confidence|boss moves|self confidence|big energy|ego boost", "😎 💅 👑", "hip hop,pop"),
    "calm": (.1, .65, "calm|tranquil|peaceful|quiet|still|restful|placid|hushed|unbothered",
             "peace|tranquility|calmness|stillness|quiet moments|inner peace|peace and quiet|slow mornings", "🕊️ 🍃", "ambient,classical"),
    "sensual": (.4, .7, "sensual|sexy|steamy|sultry|seductive|spicy|bedroom|silky|seductive slow",
                "slow jams|baby making music|late night love|bedroom vibes|candle light|pillow talk|after dark", "🔥 💋 🍷", "r&b"),
    "euphoric": (.9, .95, "euphoric|ecstatic|blissful|elated|transcendent|uplifted|rapturous|hands up",
                 "euphoria|bliss|ecstasy|peak time|hands in the air|the drop|pure bliss|the rush", "🙌 🌈 💫", "edm,house"),
    "lonely": (.2, .2, "lonely|alone|isolated|lonesome|solitary|by myself|forgotten|left out",
               "loneliness|solitude|empty rooms|nobody|late night loneliness|alone time|missing you", "🌃 🥀", "indie,country"),
    "heartbroken": (.3, .15, "heartbroken|brokenhearted|broken hearted|heartsick|dumped|shattered|crushed|jilted",
                    "heartbreak|breakup|break up|moving on|getting over you|exes|broken hearts|the one that got away|post breakup", "💔 😿", "pop,r&b,country"),
    "empowered": (.8, .8, "empowering|empowered|powerful|strong|bold|unbreakable|independent|fierce",
                  "girl power|self love|empowerment|power|strength|glow up|level up|boss energy", "💪 ✊", "pop,hip hop"),
    "playful": (.7, .9, "playful|fun|silly|goofy|cheeky|quirky|bouncy|wacky|whimsical",
                "fun|good times|shenanigans|silliness|mischief|giggles|fun times", "🤪 🎈", "pop,funk"),
    "mellow": (.25, .6, "mellow|smooth|soft|easy|gentle|warm|velvety|low tempo|unhurried",
               "smooth sounds|easy listening|soft sounds|mellow moments|warm tones|a slow burn", "🌙 🕯️", "jazz,soul,easy listening"),
    "uplifting": (.7, .88, "uplifting|feel better|motivational|motivating|rousing|heartening|spirited",
                  "motivation|a pick me up|pick me ups|good energy|positivity|mood booster|spirit lifting", "☀️ 🌻", "christian,pop"),
    "epic": (.85, .6, "epic|grand|majestic|massive|huge|monumental|larger than life|heroic",
             "epicness|glory|legends|a hero's journey|battle hymns|grandeur|big moments", "⚔️ 🏔️", "soundtrack,metal"),
    "mysterious": (.4, .35, "mysterious|enigmatic|cryptic|mystic|mystical|secretive|strange|uncanny",
                   "mystery|secrets|the unknown|midnight mysteries|enigma|twilight zone|hidden places", "🔮 🌫️", "ambient,downtempo"),
    "intense": (.95, .3, "intense|heavy|hard hitting|relentless|ferocious|brutal|hard|aggressive",
                "intensity|pressure|pure intensity|heavy hitters|full throttle|no mercy", "🔥 💥", "metal,techno,drum and bass"),
    "cozy": (.2, .75, "cozy|cosy|snug|comfy|warm and fuzzy|homey|snuggly|toasty",
             "blankets|hot cocoa|fireplace|sweater weather|hygge|rainy day in|tea time|comfort songs|comfort", "☕ 🧣 🍂", "folk,jazz"),
    "bittersweet": (.35, .45, "bittersweet|wistful|poignant|happy sad|sweet and sad|tender hearted",
                    "happy tears|bittersweet memories|goodbyes|endings|last days of summer|farewells", "🥲 🌇", "indie,folk"),
    "carefree": (.6, .9, "carefree|breezy|easy breezy|light hearted|lighthearted|free spirited|no worries|footloose",
                 "freedom|no worries|hakuna matata|summer breeze|windows down|good days|free time", "🌴 🕶️", "reggae,pop"),
    "rebellious": (.85, .4, "rebellious|defiant|rowdy|unruly|reckless|anarchic|rule breaking|mutinous",
                   "rebellion|anarchy|chaos mode|breaking rules|revolution|riot|teenage angst|angst", "✊ 🤘", "punk,rock"),
    "spiritual": (.3, .7, "spiritual|soulful|sacred|holy|divine|prayerful|devotional|transcendental",
                  "faith|prayer|soul searching|worship|grace|blessings|sunday service|higher power", "🙏 ✝️ 🕉️", "christian,ambient,world"),
    "sunny": (.7, .92, "sunny|summery|sun soaked|sun kissed|tropical|golden|warm weather|sunshiny",
              "summer|summertime|sunshine|golden hour|sunsets|hot days|heatwave|endless summer", "☀️ 🌞 🏖️ 🌴", "reggae,latin,pop"),
    "gloomy": (.25, .25, "gloomy|dreary|grey|gray|overcast|rainy|stormy|drizzly|foggy",
               "rain|rainy days|storms|grey days|thunderstorms|drizzle|fog|autumn rain|petrichor", "🌧️ ⛈️ 🌫️", "indie,downtempo"),
    "spooky": (.55, .3, "spooky|creepy|haunted|eerie|scary|ghostly|witchy|macabre",
               "halloween|ghosts|haunted house|witching hour|spooky season|nightmares|goblins|trick or treat", "🎃 👻 💀", "holiday,metal"),
    "triumphant": (.85, .85, "triumphant|victorious|winning|celebratory|conquering|champion|glorious",
                   "victory|winning|celebration|champions|the win|victory lap|trophies|success", "🏆 🥇", "soundtrack,rock"),
    "introspective": (.3, .4, "introspective|reflective|thoughtful|contemplative|deep|philosophical|inward",
                      "reflection|deep thoughts|overthinking|3am thoughts|self reflection|introspection|thinking|journaling", "🤔 📓", "indie,hip hop"),
    "groovy": (.7, .85, "groovy|funky|grooving|danceable|jiggy|boogie|swinging|head nodding",
               "grooves|the groove|boogie nights|head nods|basslines|rhythm|getting down", "🕺 💃 🪩", "funk,disco,soul"),
    "tender": (.2, .7, "tender|delicate|fragile|intimate|vulnerable|sweet|hushed|gentle hearted",
               "intimacy|lullabies|tenderness|whispers|soft hearts|quiet love|close to you", "🤍 🌸", "folk,r&b"),
    "longing": (.3, .3, "longing|yearning|pining|homesick|missing|aching|far away",
                "longing|yearning|missing home|missing someone|distance|long distance|what could have been", "🌌 📞", "indie,country"),
    "feel-good": (.7, .9, "feel good|feelgood|good mood|good vibe|happy go lucky|sunny side|feel-good",
                  "good vibes|positive vibes|feel good hits|good times|happy hour|smiles all around", "😄 ✌️", "pop,funk,reggae"),
    "cinematic": (.6, .5, "cinematic|dramatic|sweeping|filmic|movie like|theatrical|widescreen",
                  "main character moments|movie scenes|opening credits|end credits|the soundtrack of my life|drama|a movie montage", "🎬 🎥 🍿", "soundtrack,classical"),
    "hypnotic": (.6, .5, "hypnotic|trancey|mesmerizing|entrancing|looping|psychedelic|trippy|repetitive",
                 "trance|hypnosis|rabbit holes|a trip|psychedelia|the loop|kaleidoscopes", "🌀 🍄 👁️", "techno,downtempo"),
    "chaotic": (.95, .5, "chaotic|unhinged|feral|crazy|manic|deranged|messy|out of control",
                "chaos|mayhem|madness|pandemonium|a mess|chaos energy|gremlin mode|goblin mode", "🌪️ 🤯", "punk,experimental"),
    "serene": (.08, .75, "serene|blissed out|placid|zen|harmonious|weightless|floating|still water",
               "serenity|zen|harmony|still waters|a quiet lake|balance|lazy afternoons", "🧘 🌊", "ambient,classical"),
    "flirty": (.6, .85, "flirty|cute|crushing|giggly|coquettish|charming|lovestruck|flirtatious",
               "crushes|a crush|first dates|flirting|butterflies|first kiss|heart eyes|cute stuff", "😘 💌 😍", "pop,latin"),
    "moody": (.45, .3, "moody|broody|in my feels|emo|sulky|pouty|sullen|temperamental",
              "mood swings|my feels|feelings|emotions|big feelings|all the feels|in my head", "🌒 🙃", "r&b,indie"),
    "anxious": (.6, .2, "anxious|nervous|restless|uneasy|tense|on edge|jittery|stressed|overwhelmed",
                "anxiety|stress|panic|nerves|a spiral|stress relief|insomnia|panic attacks", "😰 😬", "experimental,techno"),
    "weird": (.55, .5, "weird|strange|odd|bizarre|offbeat|off kilter|left field|surreal|freaky",
              "weirdness|oddities|curiosities|strange sounds|weird stuff|surrealism|the uncanny valley", "👽 🦑", "experimental"),
    "hype": (.95, .75, "hype|lit|fire|banging|savage|turnt|turnt up|go hard|goes hard",
             "bangers|heat|absolute bangers|pure hype|heaters|certified bangers|hype tracks", "🔥 🚀 💯", "hip hop,edm"),
    "soothing": (.1, .7, "soothing|calming|healing|comforting|relaxing|restorative|therapeutic|lulling",
                 "healing|comfort|self care|relief|a warm hug|therapy|recovery|rest", "🫶 🌿 🛁", "ambient,folk"),
}

# Activities: key -> (energy, valence, noun-adjunct phrasings ("workout mix"),
# phrasings that follow "for" ("songs for the gym"), emoji, boosted genres).
ACTIVITIES = {
    "workout": (.9, .6, "workout|gym|training|fitness|exercise|sweat|beast mode|pump up|cardio",
                "the gym|working out|a workout|exercise|training|getting swole|gains|a sweat session|the treadmill", "💪 🏋️", "hip hop,edm,metal,rock"),
    "lifting": (.95, .5, "lifting|weightlifting|powerlifting|leg day|pr|deadlift|bench press|iron",
                "lifting|lifting heavy|leg day|hitting prs|pumping iron|deadlifts|the weight room|max reps", "🏋️‍♂️ 💪", "metal,hip hop"),
    "running": (.85, .65, "running|run|jogging|jog|5k|marathon|tempo run|sprint",
                "running|a run|jogging|a morning run|long runs|marathon training|the track|a 5k", "🏃‍♀️ 👟", "edm,pop,drum and bass"),
    "cycling": (.8, .65, "cycling|bike|spin class|biking|bike ride|peloton|spin",
                "cycling|a bike ride|spin class|riding my bike|the bike path|long rides", "🚴", "house,edm"),
    "yoga": (.2, .6, "yoga|vinyasa|flow|stretch|pilates|hot yoga|yin yoga",
             "yoga|stretching|a yoga flow|savasana|pilates|the mat|morning stretches", "🧘‍♀️", "ambient,world,downtempo"),
    "meditation": (.05, .55, "meditation|mindfulness|breathwork|zen|sound bath|relaxation",
                   "meditation|meditating|breathing|mindfulness|a sound bath|clearing your mind|letting go", "🕉️", "ambient"),
    "sleep": (.05, .5, "sleep|sleepy|bedtime|lullaby|nap|slumber|night night",
              "sleeping|sleep|falling asleep|bedtime|naps|a deep sleep|drifting off|insomnia nights", "😴 🛌 🌙", "ambient,classical"),
    "studying": (.2, .5, "study|studying|homework|exam|revision|finals|cram|library",
                 "studying|homework|exams|finals week|cramming|revision|the library|late night study sessions", "📚 ✏️", "downtempo,classical,ambient"),
    "focus": (.3, .5, "focus|concentration|deep work|productivity|flow state|grind|work mode",
              "focus|concentrating|deep work|getting things done|being productive|flow state|the grind|locking in", "🎯 🧠", "ambient,techno,classical"),
    "coding": (.45, .5, "coding|programming|hacking|dev|debugging|code",
               "coding|programming|debugging|late night coding|hacking|writing code|shipping code", "💻 ⌨️", "synthwave,techno,downtempo"),
    "reading": (.15, .55, "reading|book|bookworm|novel|bookish",
                "reading|a good book|reading in bed|book club|getting lost in a book|reading by the window", "📖", "classical,jazz"),
    "writing": (.25, .5, "writing|journaling|poetry|creative writing|songwriting",
                "writing|journaling|poetry|writing sessions|finishing my novel|creative flow", "✍️", "classical,ambient"),
    "working": (.4, .55, "work|office|9 to 5|wfh|work from home|desk|workday",
                "work|the office|working from home|the workday|my desk job|the 9 to 5|spreadsheets", "🗂️ 💼", "indie,pop"),
    "commute": (.5, .55, "commute|commuting|subway|bus ride|train ride|metro",
                "the commute|commuting|the train|the bus|the subway|my morning commute|rush hour", "🚇 🚌", "indie,hip hop"),
    "road trip": (.65, .8, "road trip|roadtrip|highway|cross country|long drive|car ride|car",
                  "road trips|a road trip|the open road|long drives|driving|the highway|cruising|windows down driving", "🚗 🛣️", "rock,country"),
    "night drive": (.5, .4, "night drive|late night drive|midnight drive|night ride|after hours drive",
                    "night drives|driving at night|midnight drives|cruising at night|empty highways|city lights", "🌃 🚘", "synthwave,r&b"),
    "walking": (.4, .65, "walking|walk|stroll|city walk|wander|walkabout",
                "walking|a walk|long walks|walking around the city|strolling|wandering|walks in the park", "🚶", "indie,pop"),
    "hiking": (.55, .7, "hiking|hike|trail|mountain|outdoors|trekking",
               "hiking|the trail|mountain hikes|the outdoors|nature walks|trekking|the summit", "🥾 ⛰️", "folk,country"),
    "camping": (.35, .65, "camping|campfire|cabin|bonfire|tent|woods",
                "camping|the campfire|a cabin weekend|bonfires|the woods|stargazing|sitting by the fire", "🏕️", "folk,country"),
    "beach": (.6, .9, "beach|seaside|surf|ocean|coastal|island|boardwalk",
              "the beach|beach days|surfing|the ocean|island life|sandy toes|the boardwalk", "🏖️ 🌊", "reggae,latin"),
    "pool party": (.8, .9, "pool party|pool|poolside|pool side|splash|backyard pool",
                   "pool parties|the pool|lounging poolside|a pool day|splashing around", "🏊‍♀️ 🍹", "house,pop,latin"),
    "party": (.9, .85, "party|partying|house party|club|turn up|rager|fiesta|night out",
              "parties|partying|the club|a night out|going out|a house party|turning up|raging", "🎉 🥳 🪩", "pop,hip hop,house,edm"),
    "pregame": (.85, .75, "pregame|pre game|predrinks|pre drinks|pregaming|warm up",
                "pregaming|the pregame|getting hyped|pre drinks|getting ready to go out", "🍻 🍾", "hip hop,pop"),
    "after party": (.6, .6, "after party|afterparty|afters|after hours|comedown|4am",
                    "the after party|after hours|the comedown|4am|sunrise after the club", "🌅", "house,techno"),
    "dancing": (.85, .85, "dance|dancing|dancefloor|dance floor|dance party|shake it",
                "dancing|the dance floor|dancing in my room|dancing like nobody's watching|dance parties|a dance break", "💃 🕺", "disco,house,pop,funk"),
    "karaoke": (.7, .9, "karaoke|sing along|singalong|belt it out|shower singing",
                "karaoke|singing along|belting it out|karaoke night|singing in the car", "🎤", "pop,rock"),
    "dinner party": (.35, .75, "dinner party|dinner|supper|brunch|wine night|cocktail hour",
                     "dinner parties|dinner|hosting friends|wine nights|cocktail hour|brunch|a fancy dinner", "🍷 🍝", "jazz,soul,latin"),
    "cooking": (.5, .8, "cooking|kitchen|baking|cook|meal prep|chef mode",
                "cooking|the kitchen|baking|cooking dinner|meal prep|making pasta|sunday baking", "🍳 🧁", "soul,funk"),
    "cleaning": (.7, .8, "cleaning|chores|clean|tidy|housework|laundry|sunday reset",
                 "cleaning|chores|cleaning the house|doing laundry|tidying up|a sunday reset|doing dishes", "🧹 🧺", "pop,disco"),
    "getting ready": (.7, .8, "getting ready|get ready|glam|makeup|pre night out|outfit",
                      "getting ready|doing my makeup|getting dressed|the mirror|choosing an outfit|glam time", "💄 💅", "pop,r&b"),
    "shower": (.6, .8, "shower|bath|bathtub|shower concert|bubble bath",
               "the shower|showering|shower concerts|a long bath|bubble baths", "🚿 🛁", "pop,soul"),
    "date night": (.4, .8, "date night|date|candlelit dinner|anniversary|valentines|valentine",
                   "date night|a date|anniversaries|valentine's day|candlelit dinners|romantic evenings", "🌹 🍷", "r&b,soul,jazz"),
    "wedding": (.6, .9, "wedding|reception|bridal|wedding party|big day",
                "weddings|the reception|walking down the aisle|the big day|our wedding|the wedding party", "💍 👰", "soul,pop,disco"),
    "first dance": (.3, .85, "first dance|slow dance|prom|wedding dance|slowdance",
                    "the first dance|slow dancing|prom night|a slow dance|dancing cheek to cheek", "💃 🌹", "soul,r&b,country"),
    "coffee shop": (.3, .7, "coffee shop|cafe|coffee|espresso|latte|barista",
                    "coffee shops|the cafe|a latte|morning coffee|coffee and rain|sipping espresso", "☕ 🥐", "jazz,indie,folk,latin"),
    "sunday morning": (.25, .75, "sunday morning|lazy sunday|weekend morning|slow sunday|sunday",
                       "sunday mornings|lazy sundays|slow weekends|sunday brunch|sleeping in", "🌤️ 🥞", "soul,jazz,folk"),
    "wake up": (.55, .8, "morning|wake up|wakeup|sunrise|rise and shine|good morning|alarm",
                "mornings|waking up|the sunrise|starting the day|getting out of bed|early mornings", "🌅 ⏰", "pop,indie"),
    "late night": (.3, .4, "late night|midnight|3am|after midnight|night owl|insomnia",
                   "late nights|midnight|3am|staying up late|the small hours|night owls|sleepless nights", "🌙 🦉", "r&b,downtempo"),
    "rainy day": (.25, .45, "rainy day|rain|rainy|stormy night|window rain",
                  "rainy days|the rain|rain on the window|stormy nights|staying in while it rains", "☔ 🌧️", "indie,jazz"),
    "bbq": (.7, .85, "bbq|barbecue|cookout|grill|backyard|block party|tailgate",
            "the bbq|cookouts|grilling|backyard hangs|tailgates|block parties|the grill", "🍖 🌭", "soul,funk,country,hip hop"),
    "festival": (.9, .85, "festival|fest|rave|mainstage|main stage|open air|field day",
                 "festivals|raves|the main stage|festival season|open air parties|the mosh pit", "🎪 🎡", "edm,house,rock"),
    "travel": (.5, .75, "travel|vacation|holiday|adventure|wanderlust|backpacking|getaway",
               "traveling|vacation|adventures|backpacking|getaways|exploring new cities|wanderlust", "✈️ 🧳 🗺️", "world,pop"),
    "flight": (.3, .6, "flight|airplane|plane|airport|layover|jet lag|takeoff",
               "flights|the airplane|airports|long flights|layovers|takeoff|jet lag", "🛫", "ambient,indie"),
    "gaming": (.8, .55, "gaming|gamer|game|raid|speedrun|boss fight|ranked",
               "gaming|raids|boss fights|ranked games|late night gaming|speedruns|the grind", "🎮 👾", "synthwave,edm,metal,soundtrack"),
    "skating": (.75, .7, "skate|skating|skateboarding|skatepark|roller skating|rollerblading",
                "skating|the skatepark|skateboarding|roller skating|cruising on my board", "🛹", "punk,hip hop"),
    "painting": (.3, .65, "painting|art|drawing|sketching|creative|studio|art class",
                 "painting|drawing|sketching|making art|the studio|creative sessions|crafting", "🎨 🖌️", "indie,ambient"),
    "birthday": (.8, .9, "birthday|bday|b-day|birthday party|celebration|turning 30",
                 "birthdays|my birthday|birthday parties|celebrating|blowing out candles", "🎂 🎈", "pop,disco"),
    "hangout": (.5, .8, "hangout|hang out|chilling|kickback|kick back|friends|squad",
                "hanging out|chilling with friends|kickbacks|the squad|lazy hangs|friends night", "🤙 👯", "hip hop,indie,reggae"),
    "christmas": (.5, .85, "christmas|xmas|holiday season|festive|yuletide|december",
                  "christmas|the holidays|decorating the tree|christmas morning|wrapping presents|holiday parties", "🎄 🎅 ❄️", "holiday"),
}

# Eras: decade -> (decade names usable after "the", extra adjectives, phrases, emoji).
ERAS = {
    1940: ("40s|forties|1940s|'40s", "wartime|big band era|golden age|swing era|vintage",
           "from the 40s|from the forties|of the 1940s|like it's 1945|grandpa's records", "🎺 📻"),
    1950: ("50s|fifties|1950s|'50s", "doo wop era|rock n roll era|sock hop|greaser|jukebox era|vintage",
           "from the 50s|of the fifties|like it's 1955|diner jukebox|sock hop classics", "🍔 🎸"),
    1960: ("60s|sixties|1960s|'60s", "flower power|swinging sixties|woodstock era|hippie|mod|groovy sixties",
           "from the 60s|of the sixties|summer of love|british invasion|like it's 1967", "☮️ 🌼"),
    1970: ("70s|seventies|1970s|'70s", "disco era|bell bottom|vinyl era|studio 54 era|far out",
           "from the 70s|of the seventies|like it's 1977|on vinyl|my parents' records", "🕺 📀"),
    1980: ("80s|eighties|1980s|'80s", "neon|retro|synth era|mtv era|big hair|totally rad|cassette",
           "from the 80s|of the eighties|like it's 1985|mtv classics|on cassette|stranger things vibes", "📼 🕹️"),
    1990: ("90s|nineties|1990s|'90s", "grunge era|mixtape era|walkman|dial up|blockbuster night|tamagotchi",
           "from the 90s|of the nineties|like it's 1999|90s kid|tamagotchi days|back in the 90s", "💿 📟"),
    2000: ("2000s|00s|noughties|aughts|two thousands", "y2k|mp3 era|ipod era|myspace era|emo era|limewire",
           "from the 2000s|from the noughties|ipod shuffle|myspace days|high school in 2007|limewire downloads", "📱 💾"),
    2010: ("2010s|10s|twenty tens|twenty-tens|teens", "tumblr era|vine era|indie sleaze|edm boom|soundcloud era|throwback",
           "from the 2010s|tumblr days|vine era|2016 summer|the soundcloud days|college years", "📸 🤳"),
    2020: ("2020s|20s|twenty twenties|current", "tiktok|tiktok viral|viral|new|fresh|latest|this year's",
           "from the 2020s|right now|these days|tiktok hits|trending now|new releases|fresh finds", "📲 ✨"),
}

# -- templates -----------------------------------------------------------------
# Slots: {G} genre/subgenre phrase, {S} scene slang word (subgenre intents),
# {M} mood adjective, {Mn} mood noun phrase, {A} activity adjunct, {Af} activity
# phrase after "for", {E} era adjective, {Ed} decade name, {Ep} era phrase,
# {Y} a year of the era, {X} an artist name. Keys: G genre, M mood, A activity,
# E era, X artist; multi-facet keys list the facets in that order.
USER_TEMPLATES = {
    "G": "{G}|{G}|{G}|{S} {G}|{S}|all things {G}|{G} all day|{G} all day every day|{G} essentials|i love {G}|"
         "{G} only|into {G}|{G} heads|{G} rotation|{G} on repeat|{G} forever|{G} obsession|{G} that slaps|"
         "best {G} ever|{G} for life|{G} 4 life|{G} deep cuts|{G} starter pack|{G} gems|daily dose of {G}|"
         "{G} therapy|lowkey {G}|{G} sounds|my {G} era|{G} lover|{S} season|{G} heat|more {G} pls|{G} corner",
    "M": "{M}|{M}|{M} songs|{Mn}|{Mn}|feeling {M}|songs for when ur {M}|songs for when you're {M}|{M} hours|"
         "{M} mood|im {M}|i'm feeling {M}|for {Mn}|{Mn} playlist|{M} feels|{M} tunes|a little {M}|{Mn} season|"
         "music for {Mn}|{M} but make it cute|when the {Mn} hits|{Mn} only|pov: you're {M}|{M} core|{M}core|"
         "{M} era|just {M} things|{M} {M} {M}|songs that feel {M}|{Mn} soundtrack",
    "A": "{A}|{A}|{A} mix|music for {Af}|songs for {Af}|for {Af}|{A} playlist|{A} songs|{A} tunes|{A} bangers|"
         "background music for {Af}|{A} soundtrack|soundtrack for {Af}|{Af}|{A} music|{A} jams|perfect for {Af}|"
         "{A} essentials|tunes for {Af}|good {A} music|{A} motivation|{A} rotation|{A} queue|{A} time|"
         "songs to play during {Af}|{A} vibes only|{A} sesh",
    "E": "{E}|{Ed}|{E} hits|{Ed} songs|best of the {Ed}|{Ep}|summer {Y}|class of {Y}|{E} throwback|{Ed} kid|"
         "born in the {Ed}|{Ed} music|{Ed} baby|back to the {Ed}|{Y} vibes|{Ed} jukebox|greatest {Ed} songs|"
         "{Ed} throwbacks|{Y}|{Ed} forever|{E} mixtape",
    "X": "{X}|songs like {X}|{X} radio|if you like {X}|{X} and similar|{X} type beat|{X} vibes|for {X} fans|"
         "{X} + friends|{X} and friends|{X} deep cuts|best of {X}|everything {X}|{X} stan|{X} inspired|"
         "sounds like {X}|{X} essentials|{X} fan playlist|more {X} please|{X} and co",
    "GM": "{M} {G}|{M} {G}|{G} but {M}|{M} {G} songs|{G} for {Mn}|{G} when you feel {M}|{G} {Mn}|{Mn} {G}|"
          "{M} {G} vibes|{M} and {G}|{G} that makes me feel {M}|{M} {S}|{G}, but {M}|{M} {G} only|"
          "{G} for when ur {M}|{M} little {G} songs|{M} {G} hours|{G} x {Mn}|{M} {G} mix",
    "GA": "{A} {G}|{G} for {Af}|{G} {A} mix|{A} with {G}|{G} {A} playlist|{A} {G} bangers|{Af} but make it {G}|"
          "{G} {A} session|{A}: {G} edition|{G} to soundtrack {Af}|{A} {S}|{G} for {Af} lol",
    "MA": "{M} {A}|{M} songs for {Af}|{Af} but {M}|{A} {Mn}|{M} music for {Af}|{M} {A} mix|{A} but make it {M}|"
          "{M} tunes for {Af}|{Mn} for {Af}|{M} {A} vibes|{A} when you're {M}|{A} {M} hours",
    "AE": "{E} {A}|{E} songs for {Af}|{A} {E} mix|{E} hits for {Af}|{Af} with {Ed} music|{E} {A} playlist|"
          "{A} throwback {Ed}|{Ed} {A} jams",
    "GE": "{E} {G}|{G} from the {Ed}|{Ed} {G} hits|{E} {G} classics|{G} {Y}|best {E} {G}|{G} of the {Ed}|"
          "{Ed} {G} deep cuts|old school {E} {G}|{Ep} {G}|{E} {S}|{Y} {G}",
    "ME": "{M} {E} songs|{E} {M}|{E} {Mn}|{M} {Ed} tunes|{Mn} from the {Ed}|{M} {E} vibes|{M} {Y}",
    "GMA": "{M} {G} for {Af}|{M} {G} {A} mix|{A}: {M} {G}|{G} for {Af} when you're {M}|{M} {A} {G}|"
           "{Af} with {M} {G}",
    "GME": "{M} {E} {G}|{E} {M} {G}|{M} {G} from the {Ed}|{G} {E} {Mn}",
    "MAE": "{M} {E} songs for {Af}|{E} {M} {A} mix|{A} {Ed} {Mn}",
    "GAE": "{E} {G} for {Af}|{A} {E} {G}|{E} {G} {A} mix",
}

EDITORIAL_TEMPLATES = {
    "G": "{G} Essentials|Essential {G}|{G} Anthems|Fresh {G}|{G} Now|The Sound of {G}|{G} Spotlight|"
         "Pure {G}|{G} Deep Dive|{G} Masters|{G} Gold|Modern {G}|{G} Icons|The {G} Canon|{G} Rising|"
         "{G} Hall of Fame|{G} Selects|{G} Radar|{G} Heritage|{G} Unearthed",
    "M": "{M} Hits|Pure {Mn}|{M} Songs|Songs to Feel {M}|{M} Essentials|The {M} Mix|{Mn} Radio|{Mn} Selects",
    "A": "{A} Essentials|{A} Anthems|Songs for {Af}|Music for {Af}|{A} Hits|Ultimate {A} Mix|"
         "Soundtrack for {Af}|Your {A} Soundtrack|{A} Classics|{A} Selects",
    "E": "All Out {Ed}|{E} Hits|Greatest Hits of the {Ed}|{E} Essentials|Best of the {Ed}|{Ed} Smash Hits|"
         "{Ed} Gold|{Ed} Anthems",
    "X": "This Is {X}|{X} Essentials|Best of {X}|{X}: The Collection|Inspired by {X}|{X} Complete|{X} Deep Dive",
    "GM": "{M} {G}|{G} for {Mn}|{M} {G} Essentials|The {M} Side of {G}|{G}: {M} Edition|{M} {G} Selection|"
          "{M} {G} Anthems",
    "GA": "{G} for {Af}|{A} {G}|{G} {A} Mix|{A}: {G} Edition|The {G} {A} Session|{A} {G} Essentials",
    "MA": "{M} Songs for {Af}|{M} {A}|{A}: {M} Edition|{Mn} for {Af}|{M} {A} Essentials",
    "AE": "{E} {A} Hits|{A}: The {Ed}|{E} Songs for {Af}|{Ed} {A} Classics",
    "GE": "{E} {G} Classics|Essential {E} {G}|{G} of the {Ed}|{E} {G} Essentials|The Best of {E} {G}|"
          "{G}: The {Ed}|{Ed} {G} Anthems",
    "ME": "{M} {E} Hits|{E} {Mn}|{M} Songs from the {Ed}|{M} {Ed} Classics",
    "GMA": "{M} {G} for {Af}|{A}: {M} {G}|The {M} {G} {A} Mix",
    "GME": "{M} {E} {G}|{E} {G}: {M} Edition|{M} {G} of the {Ed}",
    "MAE": "{M} {E} Songs for {Af}|{E} {A}: {M} Edition",
    "GAE": "{E} {G} for {Af}|{A}: {E} {G}|{E} {G} {A} Classics",
}

# -- fillers, user noise, emoji --------------------------------------------------
USER_PREFIXES = ("my|my fav|my favorite|fav|favourite|the best|best|top|just|some|pure|certified|daily|current|"
                 "random|ultimate|only|good|new|old|more|late night|forever|sweet|real|proper|absolute|"
                 "essential|must have|go to|my go to|little|big|the|a bit of|lil|tiny|endless|weekly|"
                 "summer|winter|spring|fall|autumn|everyday|yet another|another|secret|hidden|underrated")
USER_SUFFIXES = ("playlist|vibes|vibez|mix|mixtape|songs|tunes|music|jams|bangers|hits|tracks|only|pt 2|pt. 3|"
                 "vol 1|vol. 2|vol 4|2.0|forever|szn|season|mood|energy|hours|moments|collection|stuff|things|"
                 "lol|!!|rn|2k24|2k19|xoxo|<3|for real|on repeat|on loop|only bangers|no skips|no skip|by me|"
                 "ok|ig|idk|tbh|fr|ngl|!!!|...|:)|:')|^_^|haha|lmao|omg|yay|part two|round 2|deluxe|"
                 "extended|remastered|(clean)|(explicit)|edition|archive|diaries|chronicles|club|corner|hq|"
                 "station|radio|zone|club mix|queue|rotation|shuffle|starter pack|a playlist|the playlist")
FIRST_NAMES = ("emma|liam|olivia|noah|ava|mia|sophia|lucas|mateo|isla|zoe|leo|maya|ethan|sam|alex|jess|"
               "jules|max|nina|kai|ruby|theo|ivy|omar|lena|amir|yuki|sofia|diego|priya|arjun|chloe|ben|"
               "grace|dani|nico|tara|finn|rosa|hugo|iris|jade|kenji|lola|marco|nora|oscar|paula|quinn|"
               "rafa|sara|tom|uma|vera|will|xena|yara|zack|anna|beto|cleo|dev|elif|fatima|gus|hana|ines|"
               "jon|kira|luis|mae|nate|orla|pete|rhea|sven|tess|ugo|val|wren|ximena|yusuf|zara|abby|"
               "bruno|carla|dom|eli|frida|gio|hank|ida|jay|kat|lou|mo|nell|ola|pip|raj|sky|tim|vi")
NAME_FORMS = "{n}'s {T}|{T} by {n}|{n} {T}|{T} ({n})|for {n}|{T} for {n}|{n} & me|{n}'s mix"
TEXTSPEAK = {"for": "4|fr", "to": "2", "you": "u|ya", "your": "ur|yr", "you're": "ur|youre", "and": "&|n|+",
             "songs": "songz|sngs", "vibes": "vibez|vybes", "the": "da|tha", "with": "w/|wit",
             "music": "musik|muzik", "love": "luv|lov", "night": "nite", "tonight": "tonite",
             "because": "bc|cuz", "playlist": "plist|pl", "really": "rly", "please": "pls|plz"}
GENERIC_EMOJI = "🎶 🎵 🎧 🔥 ✨ 💯 ❤️ 🖤 💜 💙 💚 🤍 🌟 ⭐ 😍 🥺 🙃 😎 🤘 👀 💫 🌈 ☀️ 🌙 🌸 🍒 🍓 🦋 🐚 🌻"
GENRE_EMOJI = "🎸 🥁 🎹 🎷 🎺 🎻 🪕 🎤 💿 📀 🎛️ 🪩"
EDITORIAL_SUFFIXES = "|| Vol. 1| Vol. 2| (Deluxe)| 2.0| Redux| Revisited| Collection| Selection"

# -- word pools for names ----------------------------------------------------------
TITLE_WORDS = (
    "midnight|velvet|paper|hearts|neon|river|golden|silver|static|echo|ghost|fever|honey|wild|broken|"
    "electric|summer|winter|shadow|light|fire|water|stone|glass|city|ocean|dream|dreams|heaven|highway|"
    "satellite|signal|gravity|orbit|comet|moon|sun|stars|starlight|daylight|twilight|dawn|dusk|horizon|"
    "thunder|lightning|rain|storm|snow|frost|bloom|roses|lilac|violet|crimson|scarlet|indigo|cobalt|"
    "amber|ivory|marble|copper|chrome|diamond|pearl|sugar|cherry|lemon|peach|coffee|whiskey|wine|smoke|"
    "mirror|window|door|house|home|garden|forest|desert|island|harbor|bridge|tower|station|motel|hotel|"
    "radio|tape|cassette|vinyl|record|jukebox|telephone|letter|postcard|photograph|polaroid|memory|"
    "memories|secret|secrets|promise|lies|truth|fear|love|lover|lovers|stranger|strangers|friends|enemy|"
    "angel|devil|saint|sinner|king|queen|prince|princess|kid|kids|baby|boy|girl|mama|daddy|sister|"
    "brother|runaway|outlaw|rebel|dancer|dancing|running|falling|flying|burning|shining|waiting|"
    "chasing|drifting|floating|sinking|breathing|dreaming|calling|coming|going|leaving|staying|holding|"
    "touch|kiss|heartbeat|pulse|rhythm|melody|song|lullaby|anthem|ballad|blues|groove|motion|emotion|"
    "paradise|utopia|nowhere|somewhere|everywhere|forever|never|always|tonight|tomorrow|yesterday|today|"
    "weekend|sunday|monday|friday|july|august|october|december|april|june|spring|autumn|season|seasons|"
    "number|zero|one|seven|eleven|hundred|thousand|million|miles|minutes|hours|days|years|lifetime|"
    "young|old|new|blue|red|green|gold|black|white|pink|purple|grey|bright|dark|cold|warm|hot|sweet|"
    "bitter|sour|soft|hard|loud|quiet|slow|fast|high|low|deep|lost|found|free|alone|together|gone|home|"
    "crazy|lazy|hazy|dizzy|lonely|holy|pretty|ugly|perfect|strange|magic|cosmic|atomic|digital|analog|"
    "plastic|paper|concrete|silk|lace|leather|denim|cotton|feather|wings|bones|blood|skin|eyes|lips|"
    "hands|feet|head|mind|soul|spirit|body|voice|words|names|faces|places|roads|streets|avenue|boulevard|"
    "alley|corner|rooftop|basement|attic|kitchen|bedroom|backseat|dashboard|headlights|taillights|"
    "freeway|exit|crossroads|border|frontier|harvest|wildfire|earthquake|hurricane|tornado|avalanche|"
    "volcano|tide|wave|waves|current|shore|coast|canyon|valley|mountain|hills|meadow|prairie|tundra|"
    "jungle|safari|carnival|circus|parade|festival|riot|revolution|empire|kingdom|castle|palace|temple|"
    "church|chapel|cathedral|sanctuary|refuge|shelter|escape|getaway|hideaway|hideout|playground|arcade|"
    "casino|cinema|theater|stage|spotlight|encore|finale|overture|prelude|interlude|reprise|remix|"
    "machine|engine|motor|rocket|spaceship|robot|android|hologram|pixel|laser|circuit|wire|voltage|"
    "frequency|wavelength|spectrum|prism|kaleidoscope|labyrinth|maze|puzzle|riddle|mystery|miracle|"
    "wonder|glory|grace|mercy|sorrow|tears|smile|laughter|silence|noise|chaos|order|balance|rush|"
    "sugar rush|slow motion|golden hour|cold sweat|last call|first light|long way|wrong turn")
TITLE_FORMS = ("{w}|{w} {w}|{w} {w}|{w} {w}|{I}|{w} {I}|{I} {w}|the {w}|the {w} {w}|{w} of {w}|{w} in {w}|"
               "{w} and {w}|{w} {w} {w}|{I} {I}|{w}, {w}|{w} ({I})|{w} on {w}|{w} for {w}|{w} {w} ({w} mix)|"
               "{w} {w} - live|{w} {w} - remastered|{w} {I} (acoustic)|{w} {w} (feat. {P})|my {w}|your {w}|"
               "no {w}|{w}!|{w} again|{w} {w} pt. 2|interlude ({w})")

# Syllables for invented, pronounceable words (artist names, track names, slang).
# First syllables may start with a cluster; later ones take a single consonant.
ONSETS = ("|b|br|c|ch|d|dr|f|fl|g|gr|h|j|k|kr|l|m|n|p|pr|r|s|sh|sl|st|t|tr|v|w|z|th|y|bl|cl|sk|sp|"
          "qu|ph|gl|fr|sn|sw|tw|vr|zh|x")
INNER_ONSETS = "b|c|d|f|g|k|l|l|m|m|n|n|p|r|r|s|t|t|v|z|th|sh|nd|ll|ss|rr|nn"
NUCLEI = "a|e|i|o|u|a|e|i|o|a|e|a|o|i|u|ai|ea|ou|io|y|ae|ie|oo|au|ei|ia"
CODAS = "|||||n|r|l|s|x|m|k|th|sh|ne|ra|la|ve|ze|rn|st|nt|on|en|el|is|ix|a|o|e"
ARTIST_FORMS = ("{I} {I}|{I} {I}|{I} {I}|{I}|{I}|the {V}|the {W} {V}|dj {I}|lil {I}|{I} & the {V}|mc {I}|"
                "{W} {W}|{I} {W}|{W} {I}|{I} {I} {I}|young {I}|big {I}|{I} and {I}|{I} trio|{I} quartet|"
                "{I} collective|{I} orchestra|{I} ensemble|the {I}s|{I} x {I}|{I}{D}|sister {I}|brother {I}|"
                "saint {I}|{I} {W} club|{W} {W} society|{I} sound system|doctor {I}|{W} kid")
# pylint: enable=line-too-long


# -- parsed form ------------------------------------------------------------------
def split(text: str) -> tuple:
  """'a|b|c' -> ('a', 'b', 'c'); an empty field is kept as ''."""
  return tuple(text.split("|"))


@dataclasses.dataclass(frozen=True)
class Lexicon:
  """Parsed lexicon; index i of each tuple is facet value i in the world."""

  genres: tuple            # genre keys
  genre_names: tuple       # per genre: phrasings
  genre_share: tuple
  genre_ev: tuple          # per genre: (energy, valence)
  genre_start: tuple       # per genre: first decade index
  subs: tuple              # subgenre keys (canonical phrasing)
  sub_names: tuple
  sub_genre: tuple         # per subgenre: genre index
  sub_peak: tuple          # per subgenre: peak decade index
  sub_ev: tuple            # per subgenre: (energy, valence) or None (genre's + jitter)
  moods: tuple
  mood_ev: tuple
  mood_adj: tuple
  mood_noun: tuple
  mood_emoji: tuple
  mood_boost: tuple        # per mood: genre indices
  acts: tuple
  act_ev: tuple
  act_pre: tuple
  act_for: tuple
  act_emoji: tuple
  act_boost: tuple
  decades: tuple
  era_dec: tuple
  era_adj: tuple
  era_phrase: tuple
  era_emoji: tuple

  @classmethod
  @functools.lru_cache(maxsize=1)
  def load(cls) -> "Lexicon":
    genre_index = {g[0]: i for i, g in enumerate(GENRES)}
    subs, sub_names, sub_genre, sub_peak, sub_ev = [], [], [], [], []
    for gi, (_, _, _, _, start, _, sub_rows) in enumerate(GENRES):
      for row in sub_rows:
        names = split(row[0])
        subs.append(names[0])
        sub_names.append(names)
        sub_genre.append(gi)
        sub_peak.append(DECADES.index(max(row[1], start)))
        sub_ev.append(tuple(row[2:4]) if len(row) > 2 else None)
    if len(set(subs)) != len(subs):
      raise ValueError("subgenre canonical names must be unique")
    boost = lambda s: tuple(genre_index[g] for g in s.split(",") if g)
    m = list(MOODS.values())
    a = list(ACTIVITIES.values())
    e = [ERAS[d] for d in DECADES]
    return cls(
        genres=tuple(g[0] for g in GENRES), genre_names=tuple(split(g[5]) for g in GENRES),
        genre_share=tuple(g[1] for g in GENRES), genre_ev=tuple((g[2], g[3]) for g in GENRES),
        genre_start=tuple(DECADES.index(g[4]) for g in GENRES),
        subs=tuple(subs), sub_names=tuple(sub_names), sub_genre=tuple(sub_genre),
        sub_peak=tuple(sub_peak), sub_ev=tuple(sub_ev),
        moods=tuple(MOODS), mood_ev=tuple((r[0], r[1]) for r in m),
        mood_adj=tuple(split(r[2]) for r in m), mood_noun=tuple(split(r[3]) for r in m),
        mood_emoji=tuple(tuple(r[4].split()) for r in m), mood_boost=tuple(boost(r[5]) for r in m),
        acts=tuple(ACTIVITIES), act_ev=tuple((r[0], r[1]) for r in a),
        act_pre=tuple(split(r[2]) for r in a), act_for=tuple(split(r[3]) for r in a),
        act_emoji=tuple(tuple(r[4].split()) for r in a), act_boost=tuple(boost(r[5]) for r in a),
        decades=DECADES, era_dec=tuple(split(r[0]) for r in e),
        era_adj=tuple(split(r[0]) + split(r[1]) for r in e),
        era_phrase=tuple(split(r[2]) for r in e), era_emoji=tuple(tuple(r[3].split()) for r in e))
